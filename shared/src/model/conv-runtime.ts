import type { AutoencoderNetwork } from './dense-runtime.js';
import { convPlacement, ModelFormatError, outputShape, type Conv1DLayerWeights, type SequenceLayer, type Shape } from './network-geometry.js';

export { convPlacement, outputShape, type Conv1DLayerWeights, type SequenceLayer } from './network-geometry.js';

/**
 * Forward pass of a 1-D convolutional autoencoder over one window, with every buffer allocated
 * once. The feature vector is channel-major (`pressure.t-15 … pressure.t-0`, then the next
 * channel), as the preprocessor sends it; TF.js convolutions are channels-last ([steps][channels]),
 * so the input is transposed on the way in and the output on the way out.
 */
export class ConvNetwork implements AutoencoderNetwork {
  readonly precision = 'fp32';
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly shapes: Shape[];
  private readonly buffers: Float32Array[];
  private readonly output: Float32Array;

  constructor(
    readonly layers: readonly SequenceLayer[],
    readonly input: Shape,
  ) {
    if (layers.length === 0) throw new ModelFormatError('a network needs at least one layer');
    this.shapes = [input];
    for (const layer of layers) this.shapes.push(outputShape(layer, this.shapes.at(-1) as Shape));
    const last = this.shapes.at(-1) as Shape;
    if (last.steps !== input.steps || last.channels !== input.channels) {
      throw new ModelFormatError(`an autoencoder must give back its input shape: ${input.steps}x${input.channels} in, ${last.steps}x${last.channels} out`);
    }
    this.inputSize = this.outputSize = input.steps * input.channels;
    this.buffers = this.shapes.map((shape) => new Float32Array(shape.steps * shape.channels));
    this.output = new Float32Array(this.outputSize);
  }

  /** Returns the output buffer (channel-major, like the input), reused by the next call. */
  predict(input: ArrayLike<number>): Float32Array {
    if (input.length !== this.inputSize) throw new Error(`input has ${input.length} values, expected ${this.inputSize}`);
    const { steps, channels } = this.input;
    const first = this.buffers[0] as Float32Array;
    for (let c = 0; c < channels; c += 1) for (let t = 0; t < steps; t += 1) first[t * channels + c] = input[c * steps + t] as number;
    for (let l = 0; l < this.layers.length; l += 1) {
      const layer = this.layers[l] as SequenceLayer;
      const from = this.shapes[l] as Shape;
      const source = this.buffers[l] as Float32Array;
      const target = this.buffers[l + 1] as Float32Array;
      conv1dForward(layer, source, from, target, (this.shapes[l + 1] as Shape).steps);
    }
    const last = this.buffers.at(-1) as Float32Array;
    for (let c = 0; c < channels; c += 1) for (let t = 0; t < steps; t += 1) this.output[c * steps + t] = last[t * channels + c] as number;
    return this.output;
  }

  get weightBytes(): number {
    return this.layers.reduce((total, layer) => total + layer.kernelByFilter.byteLength + layer.bias.byteLength, 0);
  }
}

/** out[t][f] = act(bias[f] + Σ_k Σ_c in[t·s + k − padLeft][c] · W[k][c][f]), zero outside the input. */
export function conv1dForward(layer: Conv1DLayerWeights, input: Float32Array, shape: Shape, output: Float32Array, outSteps: number): void {
  const { filters, kernelSize, strides, inChannels, kernelByFilter, bias } = layer;
  const { padLeft } = convPlacement(layer, shape.steps);
  const relu = layer.activation === 'relu';
  const span = kernelSize * inChannels;
  for (let t = 0; t < outSteps; t += 1) {
    const start = t * strides - padLeft;
    // Only the kernel taps that land inside the input contribute.
    const kFrom = Math.max(0, -start);
    const kTo = Math.min(kernelSize, shape.steps - start);
    for (let f = 0; f < filters; f += 1) {
      let sum = bias[f] as number;
      const base = f * span;
      for (let k = kFrom; k < kTo; k += 1) {
        const inBase = (start + k) * inChannels;
        const wBase = base + k * inChannels;
        for (let c = 0; c < inChannels; c += 1) sum += (input[inBase + c] as number) * (kernelByFilter[wBase + c] as number);
      }
      output[t * filters + f] = relu ? (sum > 0 ? sum : 0) : sum;
    }
  }
}
