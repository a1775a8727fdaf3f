/**
 * Turns any raw anomaly statistic into a calibrated one: its surprise, -log10 of the probability
 * of a value at least this large on normal data of the learning period. Surprises of different
 * models, channels and seeds mean the same thing (3 = one sample in a thousand), so they can be
 * combined and set against a target false-alarm rate.
 *
 * Below the tail's threshold the empirical distribution is used; above it, a peaks-over-threshold
 * fit (extreme value theory, as in SPOT, Siffer et al. 2017) with an exponential tail: the excesses
 * of the top `tailShare` of the learned values over their lower bound, with their mean as the
 * scale. An exponential tail grows linearly in the statistic, so a value just beyond the learned
 * range is finitely surprising, never an explosion, and the surprise keeps rising with distance.
 */
export interface TailCalibration {
  /** Learned values at evenly spaced quantiles (ascending), for the body of the distribution. */
  quantiles: number[];
  /** The tail starts here (the 1 - tailShare quantile). */
  threshold: number;
  /** The generalised Pareto tail's scale and shape (0: exponential; > 0: heavier, power-law). */
  scale: number;
  shape: number;
  tailShare: number;
  /** The learned values above the threshold, ascending (at most MAX_TOP_VALUES, evenly thinned). */
  top: number[];
  /** How many values were learned from. */
  count: number;
  /**
   * Samples per independent value (the statistic's integrated autocorrelation time, >= 1): a
   * smoothed statistic's n learned values hold only n / correlation independent looks, and its
   * largest is only that rare.
   */
  correlation: number;
}

const QUANTILE_POINTS = 101;
const MAX_TOP_VALUES = 400;
const MAX_SHAPE = 0.5;

/**
 * `minScale` keeps a statistic that never moved while learning (a flat channel) from making the
 * first wobble infinitely surprising.
 */
export function fitTail(values: readonly number[], tailShare = 0.1, minScale = 1e-9): TailCalibration {
  const correlation = autocorrelationTime(values.filter(Number.isFinite));
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length < 10) throw new Error(`a tail needs at least 10 learned values, got ${sorted.length}`);
  const at = (q: number) => {
    const position = q * (sorted.length - 1);
    const below = Math.floor(position);
    const above = Math.min(sorted.length - 1, below + 1);
    return (sorted[below] as number) + ((sorted[above] as number) - (sorted[below] as number)) * (position - below);
  };
  const threshold = at(1 - tailShare);
  const excesses = sorted.filter((value) => value > threshold).map((value) => value - threshold);
  const meanExcess = excesses.length > 0 ? excesses.reduce((sum, value) => sum + value, 0) / excesses.length : 0;
  const excessVariance = excesses.length > 1 ? excesses.reduce((sum, value) => sum + (value - meanExcess) ** 2, 0) / (excesses.length - 1) : 0;
  // Method of moments for the generalised Pareto distribution (Hosking and Wallis, 1987). The shape
  // is held in [0, MAX_SHAPE]: a bounded tail (< 0) would make values past the learned range
  // impossible instead of surprising, and a few hundred values cannot support a heavier one.
  const ratio = excessVariance > 0 ? (meanExcess * meanExcess) / excessVariance : 1;
  const shape = Math.min(MAX_SHAPE, Math.max(0, 0.5 * (1 - ratio)));
  // Never lighter than an exponential at the body's own rate: where the top values crowd at a
  // bound (a smoothed cycle's peaks), their excesses are tiny and a tail fitted to them would make
  // the next peak a hair higher a one-in-a-billion event. An exponential has q90 - q50 = scale x ln 5.
  const bodyScale = (threshold - at(0.5)) / Math.log(5);
  const scale = Math.max(shape > 0 ? 0.5 * meanExcess * (ratio + 1) : meanExcess, bodyScale, minScale);
  const above = sorted.filter((value) => value > threshold);
  const step = Math.max(1, above.length / MAX_TOP_VALUES);
  const top = above.length <= MAX_TOP_VALUES ? above : Array.from({ length: MAX_TOP_VALUES }, (_, i) => above[Math.floor(i * step)] as number);
  if (above.length > 0) top[top.length - 1] = above.at(-1) as number;
  return {
    quantiles: Array.from({ length: QUANTILE_POINTS }, (_, i) => at(i / (QUANTILE_POINTS - 1))),
    threshold,
    scale,
    shape,
    tailShare,
    top,
    count: sorted.length,
    correlation,
  };
}

/** -log10 P(statistic >= value) under the learned distribution; 0 for ordinary values. */
export function surpriseOf(calibration: TailCalibration, value: number): number {
  if (!Number.isFinite(value)) return value > 0 ? MAX_SURPRISE : 0;
  const { quantiles, threshold, tailShare, top, count, correlation } = calibration;
  if (value > threshold) {
    const tail = -Math.log10(tailShare) + tailSurprise(calibration, value - threshold);
    const largest = top.at(-1);
    if (largest === undefined) return Math.min(MAX_SURPRISE, tail);
    // What the learning period showed is not rarer than it showed it: a value reached k times in
    // n learned samples is at most log10(n / k) surprising, whatever the fitted tail says (a daily
    // spike seen twice while learning must not alarm every day); past the largest, the surprise
    // grows on from log10 n at the tail's rate.
    const independent = count / correlation;
    const rarestSeen = Math.log10(independent + 1);
    if (value > largest) return Math.min(MAX_SURPRISE, rarestSeen + tailSurprise(calibration, value - largest));
    const reached = (top.length - lowerBound(top, value)) * Math.max(1, (count * tailShare) / top.length);
    return Math.min(tail, Math.log10((independent + 1) / Math.max(1, reached / correlation)));
  }
  // Body: the share of learned values at or above this one, read off the quantile table (the last
  // quantile at or below it; a binary search, as this runs for every statistic of every sample).
  const index = Math.max(0, Math.min(quantiles.length - 1, upperBound(quantiles, value) - 1));
  const exceeding = 1 - index / (quantiles.length - 1);
  return -Math.log10(Math.min(1, Math.max(exceeding, tailShare)));
}

/** -log10 of the tail's survival at `excess` above its threshold, relative to the threshold. */
function tailSurprise({ scale, shape }: TailCalibration, excess: number): number {
  if (shape < 1e-6) return excess / (scale * Math.LN10);
  return Math.log10(1 + (shape * excess) / scale) / shape;
}

/**
 * Integrated autocorrelation time, 1 + 2 x the sum of the autocorrelations, summed until they
 * first fall below 0.05 (Sokal's truncation, kept to a tenth of the series): 1 for independent
 * values, about (2 - a) / a for an EWMA of weight a.
 */
export function autocorrelationTime(values: readonly number[]): number {
  const n = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(n, 1);
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  if (n < 10 || variance === 0) return 1;
  let time = 1;
  for (let lag = 1; lag < n / 10; lag += 1) {
    let cross = 0;
    for (let t = lag; t < n; t += 1) cross += ((values[t] as number) - mean) * ((values[t - lag] as number) - mean);
    const rho = cross / variance;
    if (rho < 0.05) break;
    time += 2 * rho;
  }
  return time;
}

/** How many of `sorted` are at or below `value`. */
function upperBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as number) <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** A surprise past this (p = 1e-30) says nothing more, and keeps sums finite. */
export const MAX_SURPRISE = 30;

export function isTailCalibration(value: unknown): value is TailCalibration {
  const tail = value as Record<string, unknown> | null;
  return (
    typeof tail === 'object' &&
    tail !== null &&
    Array.isArray(tail.quantiles) &&
    tail.quantiles.length >= 2 &&
    tail.quantiles.every((q) => Number.isFinite(q)) &&
    Number.isFinite(tail.threshold) &&
    Number.isFinite(tail.scale) &&
    (tail.scale as number) > 0 &&
    Number.isFinite(tail.shape) &&
    (tail.shape as number) >= 0 &&
    Array.isArray(tail.top) &&
    tail.top.every((value) => Number.isFinite(value)) &&
    Number.isInteger(tail.count) &&
    Number.isFinite(tail.correlation) &&
    (tail.correlation as number) >= 1 &&
    Number.isFinite(tail.tailShare) &&
    (tail.tailShare as number) > 0 &&
    (tail.tailShare as number) < 1
  );
}
