/**
 * INT8 version of an autoencoder, dense or convolutional: weights as int8 with one scale per
 * output unit or filter (per channel, 4x smaller than float32), and each layer's input quantized
 * to int8 with a scale calibrated on representative samples, so the dot products are integer
 * arithmetic (a value beyond the range takes a float path, see below). Without calibration the
 * range is a guess; one wide enough to hold any input leaves normal values a few of the 255
 * steps: the output is garbage (tested).
 *
 * One layer shape serves both models: a dense layer is a convolution over a single step with a
 * kernel of one, so the integer loop, the calibration and the file format are written once.
 */
import { conv1dForward, convPlacement, ConvNetwork, type Conv1DLayerWeights } from './conv-runtime.js';
import type { AutoencoderNetwork, DenseNetwork } from './dense-runtime.js';
import { ModelFormatError } from './tfjs-layers-format.js';

export const MIN_CALIBRATION_SAMPLES = 200;
/** The INT8 network as it ships in a bundle: this file (layers, scales) beside INT8_WEIGHTS_FILE. */
export const INT8_MODEL_FILE = 'model.int8.json';
export const INT8_WEIGHTS_FILE = 'weights.int8.bin';
const INT8_FORMAT = 'vigil-int8';
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
/**
 * The range assumed without calibration: wide enough that standardised data never leaves it, as a
 * guess must be. Every value then lands on a few of the 255 steps: the output is garbage (tested).
 */
const UNCALIBRATED_RANGE = 64;

/** Where a layer's kernel sits on its input: `steps` x `inChannels` in, `outSteps` x `filters` out. */
interface Geometry {
  name: string;
  activation: 'relu' | 'linear';
  inSteps: number;
  inChannels: number;
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'same' | 'valid';
}

interface LayerPlan extends Geometry {
  outSteps: number;
  /** Zero padding before the first step ('same' pads as TensorFlow does: the smaller half first). */
  padLeft: number;
}

/** A float layer in both shapes: its plan, and a Conv1D layer the float runtime can run (calibration). */
interface FloatLayer extends LayerPlan, Omit<Conv1DLayerWeights, 'activation'> {}

interface Int8Layer extends LayerPlan {
  /** [filter][k][inChannel]: weight = int8 * weightScale[filter]. */
  weights: Int8Array;
  weightScale: Float32Array;
  bias: Float32Array;
  /** input = int8 * inputScale (from calibration). */
  inputScale: number;
}

/** model.int8.json. TF.js's own quantization is one uint8 range per tensor, so this format is ours. */
export interface Int8ModelJson {
  format: typeof INT8_FORMAT;
  weightsFile: string;
  /** Per layer, in order; the weights file holds per layer: int8 kernel (padded to 4), float32 scales, float32 bias. */
  layers: Array<Geometry & { inputScale: number }>;
}

/** Per layer: the indices of inputs beyond the calibrated range in this sample, and how many. */
interface Outliers {
  indices: Int32Array;
  count: number;
}

export class Int8Network implements AutoencoderNetwork {
  readonly precision = 'int8';
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly steps: number;
  private readonly channels: number;
  private readonly input: Float32Array;
  private readonly quantizedInput: Int8Array[];
  private readonly outliers: Outliers[];
  private readonly outputs: Float32Array[];
  private readonly output: Float32Array;
  /** Layer inputs that took the float path since the network was made: normal data rarely does. */
  outlierCount = 0;

  private constructor(private readonly layers: Int8Layer[]) {
    const first = layers[0] as Int8Layer;
    const last = layers.at(-1) as Int8Layer;
    this.steps = first.inSteps;
    this.channels = first.inChannels;
    this.inputSize = first.inSteps * first.inChannels;
    this.outputSize = last.outSteps * last.filters;
    if (this.outputSize !== this.inputSize || last.outSteps !== this.steps) {
      throw new ModelFormatError(`an autoencoder must give back its input shape: ${this.inputSize} in, ${this.outputSize} out`);
    }
    this.input = new Float32Array(this.inputSize);
    this.quantizedInput = layers.map((layer) => new Int8Array(layer.inSteps * layer.inChannels));
    this.outliers = layers.map((layer) => ({ indices: new Int32Array(layer.inSteps * layer.inChannels), count: 0 }));
    this.outputs = layers.map((layer) => new Float32Array(layer.outSteps * layer.filters));
    this.output = new Float32Array(this.outputSize);
  }

  /**
   * Quantizes a float network. `calibration` are representative inputs (real normal samples):
   * each layer's input scale is the largest magnitude seen there (its 99.99th percentile). Pass
   * `uncalibrated` to use a guessed range of ±64 instead (to show what calibration is for).
   */
  static quantize(network: DenseNetwork | ConvNetwork, calibration: ReadonlyArray<ArrayLike<number>> | 'uncalibrated'): Int8Network {
    const floats = floatLayersOf(network);
    if (calibration !== 'uncalibrated' && calibration.length < MIN_CALIBRATION_SAMPLES) {
      throw new Error(`INT8 calibration needs at least ${MIN_CALIBRATION_SAMPLES} representative samples, got ${calibration.length}`);
    }
    // The 99.99th percentile rather than the maximum: one extreme value would otherwise coarsen
    // the step for all the others (and values beyond it take the float path anyway).
    const magnitudes: number[][] = floats.map(() => []);
    if (calibration !== 'uncalibrated') {
      const first = floats[0] as FloatLayer;
      for (const sample of calibration) {
        let current: Float32Array = toTimeMajor(sample, first.inSteps, first.inChannels, new Float32Array(first.inSteps * first.inChannels));
        floats.forEach((layer, index) => {
          for (let i = 0; i < current.length; i += 1) magnitudes[index]?.push(Math.abs(current[i] as number));
          const output = new Float32Array(layer.outSteps * layer.filters);
          conv1dForward(layer, current, { steps: layer.inSteps, channels: layer.inChannels }, output, layer.outSteps);
          current = output;
        });
      }
    }
    const ranges = magnitudes.map((values) => values.sort((a, b) => a - b)[Math.floor(0.9999 * (values.length - 1))] ?? 0);
    return new Int8Network(
      floats.map((layer, index): Int8Layer => {
        const span = layer.kernelSize * layer.inChannels;
        const weights = new Int8Array(layer.kernelByFilter.length);
        const weightScale = new Float32Array(layer.filters);
        for (let f = 0; f < layer.filters; f += 1) {
          let max = 0;
          for (let i = 0; i < span; i += 1) max = Math.max(max, Math.abs(layer.kernelByFilter[f * span + i] as number));
          const scale = max > 0 ? max / INT8_MAX : 1;
          weightScale[f] = scale;
          for (let i = 0; i < span; i += 1) weights[f * span + i] = Math.round((layer.kernelByFilter[f * span + i] as number) / scale);
        }
        const range = calibration === 'uncalibrated' ? UNCALIBRATED_RANGE : ranges[index] || 1;
        const { kernelByFilter: _kernel, type: _type, ...plan } = layer;
        return { ...plan, weights, weightScale, inputScale: range / INT8_MAX };
      }),
    );
  }

  /** Reads the shipped form back (model.int8.json + its weights file), checking every size. */
  static fromArtifacts(model: unknown, weights: Uint8Array): Int8Network {
    const spec = model as Int8ModelJson;
    if (spec?.format !== INT8_FORMAT || !Array.isArray(spec.layers) || spec.layers.length === 0) {
      throw new ModelFormatError(`${INT8_MODEL_FILE}: not a ${INT8_FORMAT} model`);
    }
    const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
    let offset = 0;
    let previous: LayerPlan | undefined;
    const layers = spec.layers.map((layer, index): Int8Layer => {
      const where = `${INT8_MODEL_FILE}: layer ${index}`;
      const { inputScale, ...geometry } = layer ?? ({} as Geometry & { inputScale: number });
      const sizes = [geometry.inSteps, geometry.inChannels, geometry.filters, geometry.kernelSize, geometry.strides];
      if (!sizes.every((size) => Number.isInteger(size) && size > 0)) throw new ModelFormatError(`${where} has no valid size`);
      if (geometry.activation !== 'relu' && geometry.activation !== 'linear') throw new ModelFormatError(`${where}: activation ${String(geometry.activation)} is not supported`);
      if (geometry.padding !== 'same' && geometry.padding !== 'valid') throw new ModelFormatError(`${where}: padding ${String(geometry.padding)} is not supported`);
      if (!(Number.isFinite(inputScale) && inputScale > 0)) throw new ModelFormatError(`${where} has no calibrated input scale`);
      if (previous && (previous.outSteps !== geometry.inSteps || previous.filters !== geometry.inChannels)) {
        throw new ModelFormatError(`${where} takes ${geometry.inSteps}x${geometry.inChannels} but the layer before gives ${previous.outSteps}x${previous.filters}`);
      }
      const plan = planOf({ ...geometry, name: String(geometry.name) });
      previous = plan;
      const kernelBytes = plan.filters * plan.kernelSize * plan.inChannels;
      if (offset + padTo4(kernelBytes) + 8 * plan.filters > weights.byteLength) {
        throw new ModelFormatError(`${INT8_WEIGHTS_FILE} is shorter than ${INT8_MODEL_FILE} says`);
      }
      const kernel = new Int8Array(weights.slice(offset, offset + kernelBytes));
      offset += padTo4(kernelBytes);
      const readFloats = () => {
        const values = new Float32Array(plan.filters);
        for (let i = 0; i < plan.filters; i += 1) values[i] = view.getFloat32(offset + 4 * i, true);
        offset += 4 * plan.filters;
        return values;
      };
      const weightScale = readFloats();
      const bias = readFloats();
      if (![...weightScale, ...bias].every(Number.isFinite)) throw new ModelFormatError(`${INT8_WEIGHTS_FILE}: layer ${index} has non-finite scales or biases`);
      return { ...plan, weights: kernel, weightScale, bias, inputScale };
    });
    if (offset !== weights.byteLength) throw new ModelFormatError(`${INT8_WEIGHTS_FILE} is longer than ${INT8_MODEL_FILE} says`);
    return new Int8Network(layers);
  }

  /** The shipped form: model.int8.json's content and the bytes of its weights file. */
  toArtifacts(): { model: Int8ModelJson; weights: Uint8Array } {
    const size = this.layers.reduce((total, layer) => total + padTo4(layer.weights.length) + 8 * layer.filters, 0);
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
        layers: this.layers.map(({ name, activation, inSteps, inChannels, filters, kernelSize, strides, padding, inputScale }) => ({
          name,
          activation,
          inSteps,
          inChannels,
          filters,
          kernelSize,
          strides,
          padding,
          inputScale,
        })),
      },
      weights: bytes,
    };
  }

  /** Returns the output buffer (channel-major, like the input), reused by the next call. */
  predict(input: ArrayLike<number>): Float32Array {
    if (input.length !== this.inputSize) throw new Error(`input has ${input.length} values, expected ${this.inputSize}`);
    // Into one Float32Array first, time-major as the layers read it (for a dense network, one step:
    // the same order), so the loops below only ever see one array type.
    let current = toTimeMajor(input, this.steps, this.channels, this.input);
    for (let l = 0; l < this.layers.length; l += 1) {
      const layer = this.layers[l] as Int8Layer;
      const quantized = this.quantizedInput[l] as Int8Array;
      const outliers = this.outliers[l] as Outliers;
      const inverse = 1 / layer.inputScale;
      outliers.count = 0;
      for (let i = 0; i < quantized.length; i += 1) {
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
    const last = this.layers.at(-1) as Int8Layer;
    for (let c = 0; c < last.filters; c += 1) for (let t = 0; t < last.outSteps; t += 1) this.output[c * last.outSteps + t] = current[t * last.filters + c] as number;
    return this.output;
  }

  /** Bytes of weights and scales held (int8 weights, float32 scales and biases). */
  get weightBytes(): number {
    return this.layers.reduce((total, layer) => total + layer.weights.byteLength + layer.weightScale.byteLength + layer.bias.byteLength + 4, 0);
  }
}

/** A float network's layers in the one shape both kinds share. */
function floatLayersOf(network: DenseNetwork | ConvNetwork): FloatLayer[] {
  if (network instanceof ConvNetwork) {
    const conv = network;
    let steps = conv.input.steps;
    return conv.layers.map((layer) => {
      const plan = planOf({ name: layer.name, activation: layer.activation, inSteps: steps, inChannels: layer.inChannels, filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides, padding: layer.padding });
      steps = plan.outSteps;
      return { ...plan, type: 'conv1d' as const, kernelByFilter: layer.kernelByFilter, bias: layer.bias };
    });
  }
  return (network as DenseNetwork).layers.map((layer) => {
    if (layer.activation !== 'relu' && layer.activation !== 'linear') {
      throw new Error(`INT8: activation ${layer.activation} of layer ${layer.name} is not supported (relu, linear)`);
    }
    const plan = planOf({ name: layer.name, activation: layer.activation, inSteps: 1, inChannels: layer.inputSize, filters: layer.units, kernelSize: 1, strides: 1, padding: 'valid' });
    return { ...plan, type: 'conv1d' as const, kernelByFilter: layer.kernelByOutput, bias: layer.bias };
  });
}

function planOf(geometry: Geometry): LayerPlan {
  return { ...geometry, ...convPlacement(geometry, geometry.inSteps) };
}

/** Channel-major [channel][step] (the feature vector) to time-major [step][channel] (what the layers read). */
function toTimeMajor(input: ArrayLike<number>, steps: number, channels: number, out: Float32Array): Float32Array {
  for (let c = 0; c < channels; c += 1) for (let t = 0; t < steps; t += 1) out[t * channels + c] = input[c * steps + t] as number;
  return out;
}

/**
 * One layer's integer dot products: per output step, the kernel taps that land inside the input
 * are one contiguous run of it, summed in four independent int32 accumulators (|q·w| ≤ 127·127,
 * so V8 keeps the sums in integer registers); then one rescale to float per output, plus the
 * outliers' share in float.
 */
function int8Forward(quantized: Int8Array, input: Float32Array, outliers: Outliers, layer: Int8Layer, output: Float32Array): void {
  const { weights, weightScale, bias, inChannels, inSteps, filters, kernelSize, strides, padLeft, outSteps, inputScale } = layer;
  const relu = layer.activation === 'relu';
  const span = kernelSize * inChannels;
  for (let t = 0; t < outSteps; t += 1) {
    const start = t * strides - padLeft;
    const kFrom = Math.max(0, -start);
    const kTo = Math.min(kernelSize, inSteps - start);
    const qBase = (start + kFrom) * inChannels;
    const length = (kTo - kFrom) * inChannels;
    for (let f = 0; f < filters; f += 1) {
      const wBase = f * span + kFrom * inChannels;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < length; i += 4) {
        s0 = (s0 + (quantized[qBase + i] as number) * (weights[wBase + i] as number)) | 0;
        s1 = (s1 + (quantized[qBase + i + 1] as number) * (weights[wBase + i + 1] as number)) | 0;
        s2 = (s2 + (quantized[qBase + i + 2] as number) * (weights[wBase + i + 2] as number)) | 0;
        s3 = (s3 + (quantized[qBase + i + 3] as number) * (weights[wBase + i + 3] as number)) | 0;
      }
      let accumulator = (s0 + s1 + s2 + s3) | 0;
      for (; i < length; i += 1) accumulator = (accumulator + (quantized[qBase + i] as number) * (weights[wBase + i] as number)) | 0;
      let value = accumulator * inputScale * (weightScale[f] as number) + (bias[f] as number);
      for (let o = 0; o < outliers.count; o += 1) {
        const index = outliers.indices[o] as number;
        const k = Math.floor(index / inChannels) - start;
        if (k >= kFrom && k < kTo) value += (input[index] as number) * (weights[f * span + k * inChannels + (index % inChannels)] as number) * (weightScale[f] as number);
      }
      output[t * filters + f] = relu ? (value > 0 ? value : 0) : value;
    }
  }
}

function padTo4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}
