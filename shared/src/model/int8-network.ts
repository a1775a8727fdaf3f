/**
 * INT8 version of a dense network: weights as int8 with one scale per output unit (per channel,
 * 4x smaller than float32), and each layer's input quantized to int8 with a scale calibrated on
 * representative samples, so every dot product is integer arithmetic. Without calibration the
 * activation range is a guess, and large activations clip: the output is garbage (tested).
 */
import type { DenseLayerWeights } from './tfjs-layers-format.js';
import type { DenseNetwork } from './dense-runtime.js';

export const MIN_CALIBRATION_SAMPLES = 200;

interface Int8Layer {
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

export class Int8DenseNetwork {
  readonly inputSize: number;
  private readonly quantizedInput: Int8Array[];
  private readonly outputs: Float32Array[];

  private constructor(private readonly layers: Int8Layer[]) {
    this.inputSize = layers[0]?.inputSize ?? 0;
    this.quantizedInput = layers.map((layer) => new Int8Array(layer.inputSize));
    this.outputs = layers.map((layer) => new Float32Array(layer.units));
  }

  /**
   * Quantizes a float network. `calibration` are representative inputs (real normal samples):
   * each layer's input scale is the largest magnitude seen there. Pass `uncalibrated` to use a
   * fixed range of ±1 instead (to show what calibration is for).
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
      const range = calibration === 'uncalibrated' ? 1 : ranges[index] || 1;
      return { inputSize: layer.inputSize, units: layer.units, activation: layer.activation, weights, weightScale, bias: layer.bias, inputScale: range / 127 };
    });
    return new Int8DenseNetwork(layers);
  }

  /** Returns the output buffer, reused by the next call. */
  predict(input: ArrayLike<number>): Float32Array {
    let current: ArrayLike<number> = input;
    for (let l = 0; l < this.layers.length; l += 1) {
      const layer = this.layers[l] as Int8Layer;
      const quantized = this.quantizedInput[l] as Int8Array;
      const inverse = 1 / layer.inputScale;
      for (let i = 0; i < layer.inputSize; i += 1) {
        const q = Math.round((current[i] as number) * inverse);
        quantized[i] = q > 127 ? 127 : q < -127 ? -127 : q;
      }
      const output = this.outputs[l] as Float32Array;
      for (let unit = 0; unit < layer.units; unit += 1) {
        const base = unit * layer.inputSize;
        let accumulator = 0;
        for (let i = 0; i < layer.inputSize; i += 1) accumulator += (quantized[i] as number) * (layer.weights[base + i] as number);
        const value = accumulator * layer.inputScale * (layer.weightScale[unit] as number) + (layer.bias[unit] as number);
        output[unit] = layer.activation === 'relu' ? (value > 0 ? value : 0) : value;
      }
      current = output;
    }
    return current as Float32Array;
  }

  /** Bytes of weights and scales held (int8 weights, float32 scales and biases). */
  get weightBytes(): number {
    return this.layers.reduce((total, layer) => total + layer.weights.byteLength + layer.weightScale.byteLength + layer.bias.byteLength + 4, 0);
  }
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
