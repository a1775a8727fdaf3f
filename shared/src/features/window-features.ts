/**
 * Features over a sliding window of standardised values, per channel, so the model sees how a
 * sensor behaves over time and not one noisy instant: a pump that starts to vibrate irregularly
 * shows it in the window's spread long before in any single reading.
 */
export const WINDOW_FEATURES = ['last', 'mean', 'std', 'slope', 'min', 'max', 'series'] as const;
export type WindowFeature = (typeof WINDOW_FEATURES)[number];
/** The summaries: one value per channel each. `series` is the window itself, windowSize values. */
type SummaryFeature = Exclude<WindowFeature, 'series'>;

export function isWindowFeature(value: unknown): value is WindowFeature {
  return typeof value === 'string' && (WINDOW_FEATURES as readonly string[]).includes(value);
}

/**
 * Feature names in vector order: channel-major, `pressure.mean`, `pressure.std`, ...; `series`
 * gives the window oldest first, `pressure.t-9` ... `pressure.t-0` (what a convolutional model reads).
 */
export function featureNames(channels: readonly string[], features: readonly WindowFeature[], windowSize: number): string[] {
  return channels.flatMap((channel) =>
    features.flatMap((feature) =>
      feature === 'series' ? Array.from({ length: windowSize }, (_, i) => `${channel}.t-${windowSize - 1 - i}`) : [`${channel}.${feature}`],
    ),
  );
}

/** How many values each channel contributes to the feature vector. */
export function valuesPerChannel(features: readonly WindowFeature[], windowSize: number): number {
  return features.reduce((total, feature) => total + (feature === 'series' ? windowSize : 1), 0);
}

/** A fixed-size ring buffer of channel vectors with the window features computed on demand. */
export class SlidingWindow {
  private readonly values: Float64Array;
  private start = 0;
  private length = 0;

  constructor(
    readonly size: number,
    private readonly channelCount: number,
  ) {
    if (!Number.isInteger(size) || size < 2) throw new Error('window size must be an integer of at least 2');
    this.values = new Float64Array(size * channelCount);
  }

  get full(): boolean {
    return this.length === this.size;
  }

  push(vector: ArrayLike<number>): void {
    const slot = (this.start + this.length) % this.size;
    const base = slot * this.channelCount;
    for (let channel = 0; channel < this.channelCount; channel += 1) this.values[base + channel] = vector[channel] ?? 0;
    if (this.length < this.size) this.length += 1;
    else this.start = (this.start + 1) % this.size;
  }

  /** Writes the features of every channel into `out`, channel-major, starting at 0. */
  features(features: readonly WindowFeature[], out: Float64Array | number[]): void {
    const n = this.length;
    // x = 0..n-1 centred: the least-squares slope is Σ(x-x̄)(y-ȳ) / Σ(x-x̄)², per sample.
    const xMean = (n - 1) / 2;
    const xVariance = n > 1 ? (n * n - 1) / 12 : 1;
    let offset = 0;
    for (let channel = 0; channel < this.channelCount; channel += 1) {
      let sum = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i += 1) {
        const value = this.at(i, channel);
        sum += value;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      const mean = n > 0 ? sum / n : 0;
      let squares = 0;
      let covariance = 0;
      for (let i = 0; i < n; i += 1) {
        const deviation = this.at(i, channel) - mean;
        squares += deviation * deviation;
        covariance += (i - xMean) * deviation;
      }
      for (const feature of features) {
        if (feature === 'series') {
          // A window not yet full repeats its oldest value in front, so the shape never changes.
          for (let i = 0; i < this.size; i += 1) out[offset + i] = n > 0 ? this.at(Math.max(0, i - (this.size - n)), channel) : 0;
          offset += this.size;
          continue;
        }
        out[offset] = featureValue(feature, {
          last: n > 0 ? this.at(n - 1, channel) : 0,
          mean,
          std: n > 0 ? Math.sqrt(squares / n) : 0,
          slope: n > 1 ? covariance / n / xVariance : 0,
          min: n > 0 ? min : 0,
          max: n > 0 ? max : 0,
        });
        offset += 1;
      }
    }
  }

  private at(index: number, channel: number): number {
    return this.values[((this.start + index) % this.size) * this.channelCount + channel] as number;
  }
}

function featureValue(feature: SummaryFeature, summary: Record<SummaryFeature, number>): number {
  return summary[feature];
}
