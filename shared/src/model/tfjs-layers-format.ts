/**
 * Reads the standard TensorFlow.js layers format (model.json + weights.bin) into plain typed
 * arrays, without TensorFlow.js: the inference process must not pay ~30 MB and ~150 ms of
 * import for a 20-64-32-64-20 network.
 */
import { ModelFormatError, outputShape, type DenseLayerWeights, type SequenceLayer } from './network-geometry.js';

export { ModelFormatError, type DenseLayerWeights } from './network-geometry.js';

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

type Tensors = Map<string, { shape: number[]; values: Float32Array }>;
type LayerJson = { class_name: string; config: Record<string, unknown> };

/** The weight tensors by name, each checked to lie inside the weights file, which must be used up. */
function readTensors(model: LayersModelJson, weightData: ArrayBuffer): Tensors {
  const specs = model.weightsManifest.flatMap((group) => group.weights);
  const tensors: Tensors = new Map();
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
  return tensors;
}

function sequentialLayers(model: LayersModelJson): LayerJson[] {
  const layers = (model.modelTopology.config?.layers ?? []).filter((layer) => layer.class_name !== 'InputLayer');
  if (model.modelTopology.class_name !== 'Sequential' || layers.length === 0) {
    throw new ModelFormatError('only Sequential models are supported');
  }
  return layers;
}

/**
 * Decodes a Sequential stack of Conv1D layers (channels last, no dilation), the convolutional
 * autoencoder, with the window shape its first layer declares.
 */
export function decodeConvLayers(model: LayersModelJson, weightData: ArrayBuffer): { layers: SequenceLayer[]; input: { steps: number; channels: number } } {
  const tensors = readTensors(model, weightData);
  const layers = sequentialLayers(model);
  const declared = (model.modelTopology.config?.layers?.[0]?.config.batch_input_shape ?? layers[0]?.config.batch_input_shape) as unknown;
  const [, steps, channels] = Array.isArray(declared) ? (declared as number[]) : [];
  if (!Number.isInteger(steps) || !Number.isInteger(channels)) throw new ModelFormatError('the first layer declares no [steps, channels] input shape');
  const decoded: SequenceLayer[] = [];
  let shape = { steps: steps as number, channels: channels as number };
  for (const layer of layers) {
    const name = String(layer.config.name);
    let next: SequenceLayer;
    if (layer.class_name === 'Conv1D') {
      const activation = String(layer.config.activation ?? 'linear');
      const padding = String(layer.config.padding ?? 'valid');
      const scalar = (value: unknown) => (Array.isArray(value) ? Number(value[0]) : Number(value));
      if (activation !== 'relu' && activation !== 'linear') throw new ModelFormatError(`activation ${activation} is not supported`);
      if (padding !== 'same' && padding !== 'valid') throw new ModelFormatError(`layer ${name}: padding ${padding} is not supported`);
      if (scalar(layer.config.dilation_rate ?? 1) !== 1) throw new ModelFormatError(`layer ${name}: dilated convolutions are not supported`);
      if ((layer.config.data_format ?? 'channels_last') !== 'channels_last') throw new ModelFormatError(`layer ${name}: only channels_last is supported`);
      const kernel = findWeight(tensors, name, 'kernel');
      const [kernelSize, inChannels, filters] = kernel.shape as [number, number, number];
      if (kernel.shape.length !== 3 || filters !== layer.config.filters || kernelSize !== scalar(layer.config.kernel_size)) {
        throw new ModelFormatError(`layer ${name}: kernel shape ${kernel.shape.join('x')} does not match its config`);
      }
      const bias = layer.config.use_bias === false ? new Float32Array(filters) : findWeight(tensors, name, 'bias').values;
      if (bias.length !== filters) throw new ModelFormatError(`layer ${name}: bias has ${bias.length} values, expected ${filters}`);
      // TF.js stores [k][inChannel][filter]; each filter's taps contiguous make the inner loop a plain dot.
      const kernelByFilter = new Float32Array(kernel.values.length);
      for (let k = 0; k < kernelSize; k += 1) {
        for (let c = 0; c < inChannels; c += 1) {
          for (let f = 0; f < filters; f += 1) kernelByFilter[f * kernelSize * inChannels + k * inChannels + c] = kernel.values[(k * inChannels + c) * filters + f] as number;
        }
      }
      const strides = scalar(layer.config.strides ?? 1);
      if (!Number.isInteger(strides) || strides < 1) throw new ModelFormatError(`layer ${name}: strides ${String(layer.config.strides)} is not supported`);
      next = { type: 'conv1d', name, filters, kernelSize, strides, padding, activation, kernelByFilter, bias, inChannels };
    } else {
      throw new ModelFormatError(`layer type ${layer.class_name} is not supported`);
    }
    shape = outputShape(next, shape);
    decoded.push(next);
  }
  return { layers: decoded, input: { steps: steps as number, channels: channels as number } };
}

/** Decodes a Sequential stack of Dense layers and checks every shape against its neighbours. */
export function decodeDenseLayers(model: LayersModelJson, weightData: ArrayBuffer): DenseLayerWeights[] {
  const tensors = readTensors(model, weightData);
  const layers = sequentialLayers(model);
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

function findWeight(tensors: Tensors, layerName: string, kind: string) {
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
