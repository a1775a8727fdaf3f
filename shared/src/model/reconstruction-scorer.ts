import type { LevelNews } from '../detection/surprise-threshold.js';
import type { AutoencoderNetwork } from './dense-runtime.js';

export interface ScoredSample {
  /** Mean squared reconstruction error over the features, each in units of its normal error. */
  score: number;
  /** Share of the squared error per channel; sums to 1, or all 0 when the error is 0. */
  contributions: Record<string, number>;
  /** Calibrated scores only: the sample's share of an independent observation (see DetectorScore). */
  weight?: number;
  /** Calibrated scores only: what the detector says of its baseline (a settled new level), as the score message carries it. */
  level?: LevelNews;
}

/**
 * Turns an autoencoder into an anomaly score: how badly it reconstructs the sample, and which
 * sensors' features it reconstructs worst (features are channel-major, `featuresPerChannel` each).
 *
 * Each feature's error is divided by its typical error on normal data (`residualScale`, from
 * training): a feature the model always reconstructs loosely would otherwise dominate both the
 * score and the blame, and a sensor that is normally reconstructed tightly would hide its fault.
 */
export class ReconstructionScorer {
  private readonly channelErrors: Float64Array;
  private readonly inverseScale: Float64Array;

  constructor(
    private readonly network: AutoencoderNetwork,
    private readonly channels: readonly string[],
    private readonly featuresPerChannel: number,
    residualScale?: readonly number[],
  ) {
    if (channels.length * featuresPerChannel !== network.inputSize) {
      throw new Error(`${channels.length} channels x ${featuresPerChannel} features do not match ${network.inputSize} inputs`);
    }
    if (residualScale && residualScale.length !== network.inputSize) {
      throw new Error(`residualScale has ${residualScale.length} values for ${network.inputSize} features`);
    }
    this.channelErrors = new Float64Array(channels.length);
    this.inverseScale = Float64Array.from({ length: network.inputSize }, (_, i) => 1 / (residualScale?.[i] ?? 1));
  }

  score(features: ArrayLike<number>): ScoredSample {
    const reconstruction = this.network.predict(features);
    this.channelErrors.fill(0);
    let total = 0;
    for (let i = 0; i < features.length; i += 1) {
      const error = ((features[i] as number) - (reconstruction[i] as number)) * (this.inverseScale[i] as number);
      const squared = error * error;
      total += squared;
      const channel = Math.floor(i / this.featuresPerChannel);
      this.channelErrors[channel] = (this.channelErrors[channel] as number) + squared;
    }
    const contributions: Record<string, number> = {};
    for (const [index, channel] of this.channels.entries()) {
      contributions[channel] = total > 0 ? (this.channelErrors[index] as number) / total : 0;
    }
    return { score: total / features.length, contributions };
  }
}

/** Top contributing channels, largest share first. */
export function topContributors(contributions: Record<string, number>, count: number): Array<{ sensor: string; share: number }> {
  return Object.entries(contributions)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([sensor, share]) => ({ sensor, share: Math.round(share * 1000) / 1000 }));
}

/**
 * Typical reconstruction error per feature on normal data: the root mean square of the
 * residuals, floored so a feature reconstructed almost perfectly does not turn noise into alarms.
 */
export function residualScaleOf(network: AutoencoderNetwork, samples: ReadonlyArray<ArrayLike<number>>): number[] {
  const sums = new Float64Array(network.inputSize);
  for (const sample of samples) {
    const reconstruction = network.predict(sample);
    for (let i = 0; i < sums.length; i += 1) sums[i] = (sums[i] as number) + ((sample[i] as number) - (reconstruction[i] as number)) ** 2;
  }
  const rms = Array.from(sums, (sum) => Math.sqrt(sum / Math.max(samples.length, 1)));
  const median = [...rms].sort((a, b) => a - b)[rms.length >> 1] ?? 1;
  return rms.map((value) => Math.max(value, 0.1 * median, 1e-6));
}
