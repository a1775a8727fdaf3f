/**
 * Scores of a detector against labels, as the SKAB leaderboard reports them: F1 of the anomalous
 * rows, false-alarm rate (FP / all normal rows) and missed-alarm rate (FN / all anomalous rows),
 * summed over files before dividing; and a NAB-style changepoint score.
 */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function emptyConfusion(): Confusion {
  return { tp: 0, fp: 0, fn: 0, tn: 0 };
}

export function addConfusion(total: Confusion, part: Confusion): Confusion {
  return { tp: total.tp + part.tp, fp: total.fp + part.fp, fn: total.fn + part.fn, tn: total.tn + part.tn };
}

export function confusionOf(labels: readonly boolean[], predictions: readonly boolean[]): Confusion {
  if (labels.length !== predictions.length) throw new Error(`${labels.length} labels for ${predictions.length} predictions`);
  const confusion = emptyConfusion();
  labels.forEach((label, i) => {
    const predicted = predictions[i] as boolean;
    if (label && predicted) confusion.tp += 1;
    else if (!label && predicted) confusion.fp += 1;
    else if (label && !predicted) confusion.fn += 1;
    else confusion.tn += 1;
  });
  return confusion;
}

export interface RateScores {
  f1: number;
  /** False-alarm rate, %. */
  far: number;
  /** Missed-alarm rate, %. */
  mar: number;
}

export function rateScores({ tp, fp, fn, tn }: Confusion): RateScores {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  return {
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    far: fp + tn > 0 ? (100 * fp) / (fp + tn) : 0,
    mar: tp + fn > 0 ? (100 * fn) / (tp + fn) : 0,
  };
}

/** NAB standard profile weights (Lavin and Ahmad, 2015). */
const NAB = { truePositive: 1, falsePositive: -0.11, falseNegative: -1 };

/** NAB's scaled sigmoid: ~1 at a window's start, 0 at its end, towards -1 after it. */
function scaledSigmoid(relativePosition: number): number {
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

export interface NabCounts {
  score: number;
  perfect: number;
  none: number;
}

/**
 * NAB-style changepoint score of one file. Each true changepoint gets a window of
 * 10 % of the file's length divided by the number of changepoints, centred on it. The earliest
 * detection in a window scores A_TP x sigmoid(position) (early is better); a window without one
 * scores A_FN; a detection outside every window scores A_FP, less when it trails a window closely.
 * Summed over files, then normalised: 0 is a detector that never fires, 100 a perfect one.
 */
export function nabCounts(length: number, changepoints: readonly number[], detections: readonly number[]): NabCounts {
  if (changepoints.length === 0) return { score: 0, perfect: 0, none: 0 };
  const half = Math.max(1, Math.floor((0.1 * length) / changepoints.length / 2));
  const windows = changepoints.map((point) => ({ start: Math.max(0, point - half), end: Math.min(length - 1, point + half) }));
  let score = 0;
  const hit = new Set<number>();
  for (const detection of [...detections].sort((a, b) => a - b)) {
    const index = windows.findIndex((window) => detection >= window.start && detection <= window.end);
    if (index >= 0) {
      if (hit.has(index)) continue;
      hit.add(index);
      const window = windows[index] as { start: number; end: number };
      const position = -1 + (detection - window.start) / Math.max(1, window.end - window.start);
      score += NAB.truePositive * scaledSigmoid(position);
      continue;
    }
    const previous = windows.filter((window) => window.end < detection).at(-1);
    const weight = previous ? -scaledSigmoid((detection - previous.end) / Math.max(1, previous.end - previous.start)) : 1;
    score += NAB.falsePositive * weight;
  }
  score += NAB.falseNegative * (windows.length - hit.size);
  return { score, perfect: windows.length * NAB.truePositive * scaledSigmoid(-1), none: windows.length * NAB.falseNegative };
}

export function nabScore(total: NabCounts): number {
  return total.perfect === total.none ? 0 : (100 * (total.score - total.none)) / (total.perfect - total.none);
}
