/**
 * What both network runtimes and the layers-format reader share: the layer weights as plain typed
 * arrays, the shapes a convolution gives, and the error a malformed model raises. Kept apart so
 * that the runtimes and the reader depend on it, not on each other.
 */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
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

/** A Conv1D layer as TF.js defines it (channels last), with the kernel laid out for the loop below. */
export interface Conv1DLayerWeights {
  type: 'conv1d';
  name: string;
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'same' | 'valid';
  activation: 'relu' | 'linear';
  /** [filter][k][inChannel]: each filter's weights contiguous. */
  kernelByFilter: Float32Array;
  bias: Float32Array;
  inChannels: number;
}

export type SequenceLayer = Conv1DLayerWeights;

export interface Shape {
  steps: number;
  channels: number;
}

export function outputShape(layer: SequenceLayer, input: Shape): Shape {
  if (layer.inChannels !== input.channels) {
    throw new ModelFormatError(`layer ${layer.name} takes ${layer.inChannels} channels but the layer before gives ${input.channels}`);
  }
  return { steps: convPlacement(layer, input.steps).outSteps, channels: layer.filters };
}

/**
 * Where a kernel lands on an input of `inSteps`: how many output steps, and how much zero padding
 * comes before the first input step. 'same' pads as TensorFlow does: total max((out−1)·s + k − in,
 * 0), the smaller half first.
 */
export function convPlacement(
  layer: Pick<Conv1DLayerWeights, 'name' | 'kernelSize' | 'strides' | 'padding'>,
  inSteps: number,
): { outSteps: number; padLeft: number } {
  const { kernelSize, strides, padding } = layer;
  const outSteps = padding === 'same' ? Math.ceil(inSteps / strides) : Math.floor((inSteps - kernelSize) / strides) + 1;
  if (outSteps <= 0) throw new ModelFormatError(`layer ${layer.name}: a window of ${inSteps} is too short for its kernel`);
  const padTotal = padding === 'same' ? Math.max((outSteps - 1) * strides + kernelSize - inSteps, 0) : 0;
  return { outSteps, padLeft: Math.floor(padTotal / 2) };
}
