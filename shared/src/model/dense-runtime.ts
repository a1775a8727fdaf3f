import type { DenseLayerWeights } from './tfjs-layers-format.js';

/**
 * Forward pass of a stack of dense layers over Float32Arrays, with every buffer allocated once.
 * This is the whole inference runtime: ~10 µs a sample for 20-64-32-64-20, no framework.
 */
export class DenseNetwork {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly activations: Float32Array[];

  constructor(private readonly layers: DenseLayerWeights[]) {
    const first = layers[0];
    const last = layers.at(-1);
    if (!first || !last) throw new Error('a network needs at least one layer');
    this.inputSize = first.inputSize;
    this.outputSize = last.units;
    this.activations = layers.map((layer) => new Float32Array(layer.units));
  }

  /** Returns the output buffer, reused by the next call: copy it if it must outlive that. */
  predict(input: ArrayLike<number>): Float32Array {
    if (input.length !== this.inputSize) throw new Error(`input has ${input.length} values, expected ${this.inputSize}`);
    let current: ArrayLike<number> = input;
    for (const [index, layer] of this.layers.entries()) {
      const output = this.activations[index] as Float32Array;
      const { kernelByOutput, bias, inputSize, units, activation } = layer;
      for (let unit = 0; unit < units; unit += 1) {
        let sum = bias[unit] as number;
        const base = unit * inputSize;
        for (let i = 0; i < inputSize; i += 1) sum += (current[i] as number) * (kernelByOutput[base + i] as number);
        output[unit] = activate(activation, sum);
      }
      current = output;
    }
    return current as Float32Array;
  }

  /** Bytes of weights held: what the model costs in memory beyond the runtime itself. */
  get weightBytes(): number {
    return this.layers.reduce((total, layer) => total + (layer.kernelByOutput.byteLength + layer.bias.byteLength), 0);
  }
}

function activate(activation: DenseLayerWeights['activation'], value: number): number {
  switch (activation) {
    case 'relu':
      return value > 0 ? value : 0;
    case 'linear':
      return value;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-value));
    case 'tanh':
      return Math.tanh(value);
  }
}
