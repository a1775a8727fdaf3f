/**
 * INT8 version of a dense network: weights as int8 with one scale per output unit (per channel,
 * 4x smaller than float32), and each layer's input quantized to int8 with a scale calibrated on
 * representative samples, so the dot products are integer arithmetic (a value beyond the range takes
 * a float path, see below). Without calibration the range is a guess; one wide enough to hold any
 * input leaves normal values a few of the 255 steps: the output is garbage (tested).
 */
import type { AutoencoderNetwork, DenseNetwork } from './dense-runtime.js';
import { ModelFormatError, type DenseLayerWeights } from './tfjs-layers-format.js';

export const MIN_CALIBRATION_SAMPLES = 200;
/**
 * A layer input the calibrated range cannot hold (a value beyond ±127 steps) is not clipped: it is
 * left out of the integer dot product and added in float32 with its dequantized weights (the
 * outlier split of LLM.int8()). An anomaly detector exists for inputs outside the normal range;
 * clipped at its edge, a drifted reading reached the decoder looking normal, and the INT8 model
 * alarmed on SKAB far more than the FP32 one with the same weights (FAR 44.7 % vs 24.5 %); with
 * the float path it tracks it (F1 0.75 / FAR 25.0 % / MAR 26.5 % vs 0.76 / 24.5 % / 26.4 %).
 * Widening every range 8x instead tracked SKAB but made the resolution inside the normal range so
 * coarse that scores on the simulated pump no longer correlated with FP32 (0.17).
 */
const INT8_MAX = 127;
/** The INT8 network as it ships in a bundle: this file (layers, scales) beside INT8_WEIGHTS_FILE. */
export const INT8_MODEL_FILE = 'model.int8.json';
export const INT8_WEIGHTS_FILE = 'weights.int8.bin';
const INT8_FORMAT = 'vigil-int8-dense';

/**
 * model.int8.json. TF.js's own weight quantization is one affine uint8 range per tensor; a
 * per-output-channel int8 scale keeps small-weight units from collapsing to zero, so the INT8
 * network has its own small format (the float network it came from is standard TF.js layers).
 */
export interface Int8ModelJson {
  format: typeof INT8_FORMAT;
  weightsFile: string;
  /** Per layer, in order; weights file holds per layer: int8 kernel (padded to 4), float32 scales, float32 bias. */
  layers: Array<{ name: string; inputSize: number; units: number; activation: 'relu' | 'linear'; inputScale: number }>;
}

interface Int8Layer {
  name: string;
  inputSize: number;
  units: number;
  activation: DenseLayerWeights['activation'];
  weights: Int8Array;
  /** Per output unit: weight = int8 * weightScale[unit]. */
  weightScale: Float32Array;
  bias: Float32Array;
  /** input = int8 * inputScale (from calibration). */
  inputScale: number;
}

/** Per layer: the indices of inputs beyond the calibrated range in this sample, and how many. */
interface Outliers {
  indices: Int32Array;
  count: number;
}

/**
 * The range assumed without calibration: wide enough that standardised data never leaves it, as a
 * guess must be. Every value then lands on a few of the 255 steps: the output is garbage (tested).
 */
const UNCALIBRATED_RANGE = 64;

export class Int8DenseNetwork implements AutoencoderNetwork {
  readonly precision = 'int8';
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly input: Float32Array;
  private readonly quantizedInput: Int8Array[];
  private readonly outliers: Outliers[];
  private readonly outputs: Float32Array[];
  /** Layer inputs that took the float path since the network was made: normal data rarely does. */
  outlierCount = 0;

  private constructor(private readonly layers: Int8Layer[]) {
    this.input = new Float32Array(layers[0]?.inputSize ?? 0);
    this.inputSize = layers[0]?.inputSize ?? 0;
    this.outputSize = layers.at(-1)?.units ?? 0;
    this.quantizedInput = layers.map((layer) => new Int8Array(layer.inputSize));
    this.outliers = layers.map((layer) => ({ indices: new Int32Array(layer.inputSize), count: 0 }));
    this.outputs = layers.map((layer) => new Float32Array(layer.units));
  }

  /**
   * Quantizes a float network. `calibration` are representative inputs (real normal samples):
   * each layer's input scale is the largest magnitude seen there. Pass `uncalibrated` to use a
   * guessed range of ±64 instead (to show what calibration is for).
   */
  static quantize(network: DenseNetwork, calibration: ReadonlyArray<ArrayLike<number>> | 'uncalibrated'): Int8DenseNetwork {
    const unsupported = network.layers.find((layer) => layer.activation !== 'relu' && layer.activation !== 'linear');
    if (unsupported) throw new Error(`INT8: activation ${unsupported.activation} of layer ${unsupported.name} is not supported (relu, linear)`);
    if (calibration !== 'uncalibrated' && calibration.length < MIN_CALIBRATION_SAMPLES) {
      throw new Error(`INT8 calibration needs at least ${MIN_CALIBRATION_SAMPLES} representative samples, got ${calibration.length}`);
    }
    // Each layer's input range: the 99.99th percentile of |activation| over the calibration set,
    // not the maximum - one extreme value would otherwise coarsen the step for all the others.
    const magnitudes: number[][] = network.layers.map(() => []);
    if (calibration !== 'uncalibrated') {
      for (const sample of calibration) {
        let current: ArrayLike<number> = sample;
        network.layers.forEach((layer, index) => {
          for (let i = 0; i < current.length; i += 1) magnitudes[index]?.push(Math.abs(current[i] as number));
          current = forwardFloat(layer, current);
        });
      }
    }
    const ranges = magnitudes.map((values) => {
      const sorted = values.sort((a, b) => a - b);
      return sorted[Math.floor(0.9999 * (sorted.length - 1))] ?? 0;
    });
    const layers = network.layers.map((layer, index): Int8Layer => {
      const weights = new Int8Array(layer.kernelByOutput.length);
      const weightScale = new Float32Array(layer.units);
      for (let unit = 0; unit < layer.units; unit += 1) {
        let max = 0;
        for (let i = 0; i < layer.inputSize; i += 1) max = Math.max(max, Math.abs(layer.kernelByOutput[unit * layer.inputSize + i] as number));
        const scale = max > 0 ? max / 127 : 1;
        weightScale[unit] = scale;
        for (let i = 0; i < layer.inputSize; i += 1) {
          weights[unit * layer.inputSize + i] = Math.round((layer.kernelByOutput[unit * layer.inputSize + i] as number) / scale);
        }
      }
      const range = calibration === 'uncalibrated' ? UNCALIBRATED_RANGE : ranges[index] || 1;
      return { name: layer.name, inputSize: layer.inputSize, units: layer.units, activation: layer.activation, weights, weightScale, bias: layer.bias, inputScale: range / 127 };
    });
    return new Int8DenseNetwork(layers);
  }

  /** Reads the shipped form back (model.int8.json + its weights file), checking every size. */
  static fromArtifacts(model: unknown, weights: Uint8Array): Int8DenseNetwork {
    const spec = model as Int8ModelJson;
    if (spec?.format !== INT8_FORMAT || !Array.isArray(spec.layers) || spec.layers.length === 0) {
      throw new ModelFormatError(`${INT8_MODEL_FILE}: not a ${INT8_FORMAT} model`);
    }
    const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
    let offset = 0;
    const layers = spec.layers.map((layer, index): Int8Layer => {
      const { name, inputSize, units, activation, inputScale } = layer ?? {};
      if (!Number.isInteger(inputSize) || !Number.isInteger(units) || inputSize <= 0 || units <= 0) {
        throw new ModelFormatError(`${INT8_MODEL_FILE}: layer ${index} has no valid size`);
      }
      if (activation !== 'relu' && activation !== 'linear') throw new ModelFormatError(`${INT8_MODEL_FILE}: activation ${String(activation)} is not supported`);
      if (!(Number.isFinite(inputScale) && inputScale > 0)) throw new ModelFormatError(`${INT8_MODEL_FILE}: layer ${index} has no calibrated input scale`);
      const previous = spec.layers[index - 1];
      if (previous && previous.units !== inputSize) {
        throw new ModelFormatError(`${INT8_MODEL_FILE}: layer ${index} takes ${inputSize} inputs but the layer before gives ${previous.units}`);
      }
      const kernelBytes = inputSize * units;
      const needed = padTo4(kernelBytes) + 8 * units;
      if (offset + needed > weights.byteLength) throw new ModelFormatError(`${INT8_WEIGHTS_FILE} is shorter than ${INT8_MODEL_FILE} says`);
      const kernel = new Int8Array(weights.slice(offset, offset + kernelBytes));
      offset += padTo4(kernelBytes);
      const readFloats = () => {
        const values = new Float32Array(units);
        for (let i = 0; i < units; i += 1) values[i] = view.getFloat32(offset + 4 * i, true);
        offset += 4 * units;
        return values;
      };
      const weightScale = readFloats();
      const bias = readFloats();
      if (![...weightScale, ...bias].every(Number.isFinite)) throw new ModelFormatError(`${INT8_WEIGHTS_FILE}: layer ${index} has non-finite scales or biases`);
      return { name: String(name), inputSize, units, activation, weights: kernel, weightScale, bias, inputScale };
    });
    if (offset !== weights.byteLength) throw new ModelFormatError(`${INT8_WEIGHTS_FILE} is longer than ${INT8_MODEL_FILE} says`);
    return new Int8DenseNetwork(layers);
  }

  /** The shipped form: model.int8.json's content and the bytes of its weights file. */
  toArtifacts(): { model: Int8ModelJson; weights: Uint8Array } {
    const size = this.layers.reduce((total, layer) => total + padTo4(layer.weights.length) + 8 * layer.units, 0);
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    let offset = 0;
    for (const layer of this.layers) {
      bytes.set(new Uint8Array(layer.weights.buffer, layer.weights.byteOffset, layer.weights.byteLength), offset);
      offset += padTo4(layer.weights.length);
      for (const values of [layer.weightScale, layer.bias]) {
        for (const value of values) {
          view.setFloat32(offset, value, true);
          offset += 4;
        }
      }
    }
    return {
      model: {
        format: INT8_FORMAT,
        weightsFile: INT8_WEIGHTS_FILE,
        layers: this.layers.map(({ name, inputSize, units, activation, inputScale }) => ({ name, inputSize, units, activation: activation as 'relu' | 'linear', inputScale })),
      },
      weights: bytes,
    };
  }

  /** Returns the output buffer, reused by the next call. */
  predict(input: ArrayLike<number>): Float32Array {
    if (input.length !== this.inputSize) throw new Error(`input has ${input.length} values, expected ${this.inputSize}`);
    // Copied into a Float32Array first so the loop below only ever sees one array type (as in DenseNetwork).
    const first = this.input;
    for (let i = 0; i < first.length; i += 1) first[i] = input[i] as number;
    let current = first;
    for (let l = 0; l < this.layers.length; l += 1) {
      const layer = this.layers[l] as Int8Layer;
      const quantized = this.quantizedInput[l] as Int8Array;
      const outliers = this.outliers[l] as Outliers;
      const inverse = 1 / layer.inputScale;
      outliers.count = 0;
      for (let i = 0; i < layer.inputSize; i += 1) {
        const q = Math.round((current[i] as number) * inverse);
        if (q > INT8_MAX || q < -INT8_MAX) {
          quantized[i] = 0;
          outliers.indices[outliers.count] = i;
          outliers.count += 1;
        } else {
          quantized[i] = q;
        }
      }
      this.outlierCount += outliers.count;
      const output = this.outputs[l] as Float32Array;
      int8Forward(quantized, current, outliers, layer, output);
      current = output;
    }
    return current;
  }

  /** Bytes of weights and scales held (int8 weights, float32 scales and biases). */
  get weightBytes(): number {
    return this.layers.reduce((total, layer) => total + layer.weights.byteLength + layer.weightScale.byteLength + layer.bias.byteLength + 4, 0);
  }
}

/**
 * One layer's integer dot products, four independent int32 sums per unit (|q·w| ≤ 127·127, so a
 * sum over thousands of inputs stays far inside int32 and V8 keeps it in integer registers), then
 * one rescale to float per unit, plus the outliers' share in float.
 */
function int8Forward(quantized: Int8Array, input: Float32Array, outliers: Outliers, layer: Int8Layer, output: Float32Array): void {
  const { weights, weightScale, bias, inputSize, units, inputScale } = layer;
  const relu = layer.activation === 'relu';
  for (let unit = 0; unit < units; unit += 1) {
    const base = unit * inputSize;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < inputSize; i += 4) {
      s0 = (s0 + (quantized[i] as number) * (weights[base + i] as number)) | 0;
      s1 = (s1 + (quantized[i + 1] as number) * (weights[base + i + 1] as number)) | 0;
      s2 = (s2 + (quantized[i + 2] as number) * (weights[base + i + 2] as number)) | 0;
      s3 = (s3 + (quantized[i + 3] as number) * (weights[base + i + 3] as number)) | 0;
    }
    let accumulator = (s0 + s1 + s2 + s3) | 0;
    for (; i < inputSize; i += 1) accumulator = (accumulator + (quantized[i] as number) * (weights[base + i] as number)) | 0;
    let value = accumulator * inputScale * (weightScale[unit] as number) + (bias[unit] as number);
    for (let o = 0; o < outliers.count; o += 1) {
      const index = outliers.indices[o] as number;
      value += (input[index] as number) * (weights[base + index] as number) * (weightScale[unit] as number);
    }
    output[unit] = relu ? (value > 0 ? value : 0) : value;
  }
}

function padTo4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

function forwardFloat(layer: DenseLayerWeights, input: ArrayLike<number>): Float32Array {
  const output = new Float32Array(layer.units);
  for (let unit = 0; unit < layer.units; unit += 1) {
    let sum = layer.bias[unit] as number;
    for (let i = 0; i < layer.inputSize; i += 1) sum += (input[i] as number) * (layer.kernelByOutput[unit * layer.inputSize + i] as number);
    output[unit] = layer.activation === 'relu' ? Math.max(0, sum) : sum;
  }
  return output;
}
