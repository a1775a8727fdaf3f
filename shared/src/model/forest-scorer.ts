import type { IsolationForest } from './isolation-forest.js';
import type { ScoredSample } from './reconstruction-scorer.js';

/**
 * The isolation forest as an anomaly scorer: its score (near 1 isolated quickly, about 0.5 or
 * below inside the normal data), and each sensor's share of the splits that isolated the sample,
 * so an alert names the sensors as it does for an autoencoder.
 */
export class ForestScorer {
  private readonly shares: Float64Array;

  constructor(
    private readonly forest: IsolationForest,
    private readonly channels: readonly string[],
    private readonly featuresPerChannel: number,
  ) {
    if (channels.length * featuresPerChannel !== forest.inputSize) {
      throw new Error(`${channels.length} channels x ${featuresPerChannel} features do not match the forest's ${forest.inputSize} inputs`);
    }
    this.shares = new Float64Array(forest.inputSize);
  }

  score(features: ArrayLike<number>): ScoredSample {
    const score = this.forest.explain(features, this.shares);
    const contributions: Record<string, number> = {};
    for (const [index, channel] of this.channels.entries()) {
      let share = 0;
      for (let i = index * this.featuresPerChannel; i < (index + 1) * this.featuresPerChannel; i += 1) share += this.shares[i] as number;
      contributions[channel] = share;
    }
    return { score, contributions };
  }
}
