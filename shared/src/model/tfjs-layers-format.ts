/**
 * Reads the standard TensorFlow.js layers format (model.json + weights.bin) into plain typed
 * arrays, without TensorFlow.js: the inference process must not pay ~30 MB and ~150 ms of
 * import for a 20-64-32-64-20 network.
 */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  /** Present when the weights were quantized by the TF.js converter. */
  quantization?: unknown;
}

export interface LayersModelJson {
  format?: string;
  modelTopology: {
    class_name?: string;
    config?: { name?: string; layers?: Array<{ class_name: string; config: Record<string, unknown> }> };
  };
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
}

export interface DenseLayerWeights {
  name: string;
  units: number;
  inputSize: number;
  activation: 'relu' | 'linear' | 'sigmoid' | 'tanh';
  /** Row-major [units][inputSize]: each output's weights contiguous, for a cache-friendly dot. */
  kernelByOutput: Float32Array;
  bias: Float32Array;
}

export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

const SUPPORTED_ACTIVATIONS = new Set(['relu', 'linear', 'sigmoid', 'tanh']);

export function parseLayersModelJson(text: string): LayersModelJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ModelFormatError('model.json is not JSON');
  }
  const model = parsed as LayersModelJson;
  if (typeof model !== 'object' || model === null || !model.modelTopology || !Array.isArray(model.weightsManifest)) {
    throw new ModelFormatError('model.json lacks modelTopology or weightsManifest');
  }
  return model;
}

/** The weight files a model.json names, in manifest order (their bytes are concatenated). */
export function weightPaths(model: LayersModelJson): string[] {
  return model.weightsManifest.flatMap((group) => group.paths);
}

/** Decodes a Sequential stack of Dense layers and checks every shape against its neighbours. */
export function decodeDenseLayers(model: LayersModelJson, weightData: ArrayBuffer): DenseLayerWeights[] {
  const specs = model.weightsManifest.flatMap((group) => group.weights);
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization) {
      throw new ModelFormatError(`weight ${spec.name}: only unquantized float32 weights are read here`);
    }
    const size = spec.shape.reduce((product, dimension) => product * dimension, 1);
    if (offset + size * 4 > weightData.byteLength) throw new ModelFormatError('weights.bin is shorter than model.json says');
    tensors.set(spec.name, { shape: spec.shape, values: new Float32Array(weightData.slice(offset, offset + size * 4)) });
    offset += size * 4;
  }
  if (offset !== weightData.byteLength) throw new ModelFormatError('weights.bin is longer than model.json says');

  const layers = (model.modelTopology.config?.layers ?? []).filter((layer) => layer.class_name !== 'InputLayer');
  if (model.modelTopology.class_name !== 'Sequential' || layers.length === 0) {
    throw new ModelFormatError('only Sequential models are supported');
  }
  const decoded: DenseLayerWeights[] = [];
  for (const layer of layers) {
    if (layer.class_name !== 'Dense') throw new ModelFormatError(`layer type ${layer.class_name} is not supported`);
    const name = String(layer.config.name);
    const activation = String(layer.config.activation ?? 'linear');
    if (!SUPPORTED_ACTIVATIONS.has(activation)) throw new ModelFormatError(`activation ${activation} is not supported`);
    const kernel = findWeight(tensors, name, 'kernel');
    const [inputSize, units] = kernel.shape as [number, number];
    if (kernel.shape.length !== 2 || units !== layer.config.units) {
      throw new ModelFormatError(`layer ${name}: kernel shape ${kernel.shape.join('x')} does not match ${String(layer.config.units)} units`);
    }
    const previous = decoded.at(-1);
    if (previous && previous.units !== inputSize) {
      throw new ModelFormatError(`layer ${name} takes ${inputSize} inputs but the layer before gives ${previous.units}`);
    }
    const bias = layer.config.use_bias === false ? new Float32Array(units) : findWeight(tensors, name, 'bias').values;
    if (bias.length !== units) throw new ModelFormatError(`layer ${name}: bias has ${bias.length} values, expected ${units}`);
    decoded.push({
      name,
      units,
      inputSize,
      activation: activation as DenseLayerWeights['activation'],
      kernelByOutput: transpose(kernel.values, inputSize, units),
      bias,
    });
  }
  return decoded;
}

function findWeight(tensors: Map<string, { shape: number[]; values: Float32Array }>, layerName: string, kind: string) {
  // TF.js names weights "<layer>/<kind>", sometimes under a model scope: "<model>/<layer>/<kind>".
  for (const [name, tensor] of tensors) {
    if (name === `${layerName}/${kind}` || name.endsWith(`/${layerName}/${kind}`)) return tensor;
  }
  throw new ModelFormatError(`weights.bin has no ${kind} for layer ${layerName}`);
}

function transpose(kernel: Float32Array, rows: number, columns: number): Float32Array {
  const transposed = new Float32Array(kernel.length);
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < columns; column += 1) transposed[column * rows + row] = kernel[row * columns + column] as number;
  }
  return transposed;
}
