/**
 * The NAB standard score of one file, by NAB's own rules (nab/scorer.py, standard profile):
 * - inside a window only the first detection counts, worth A_TP x sigmoid(position): the relative
 *   position runs from -1 at the window's first row to 0 at its last, so early beats late;
 * - a window with no detection costs A_FN;
 * - a detection outside every window costs A_FP x sigmoid(distance after the preceding window, in
 *   window lengths), which is ~A_FP far from windows and fades just after one; A_FP in full when
 *   no window precedes it;
 * - detections in the probationary period are not scored.
 * A detection is an event: the row where an alarm began. Alarm ends are not detections.
 */
export const NAB_STANDARD = { truePositive: 1, falsePositive: 0.11, falseNegative: 1 };

export interface NabFileScore {
  score: number;
  windows: number;
  windowsFound: number;
  falsePositives: number;
  /** Rows from each found window's start to its first detection. */
  delays: number[];
}

export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  if (relativePosition < -3) return 1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

export function nabFileScore(
  windows: ReadonlyArray<{ start: number; end: number }>,
  detections: readonly number[],
  probation: number,
  weights = NAB_STANDARD,
): NabFileScore {
  const scored = [...detections].filter((row) => row >= probation).sort((a, b) => a - b);
  let score = 0;
  const delays: number[] = [];
  let windowsFound = 0;
  for (const window of windows) {
    const first = scored.find((row) => row >= window.start && row <= window.end);
    if (first === undefined) {
      score -= weights.falseNegative;
      continue;
    }
    windowsFound += 1;
    delays.push(first - window.start);
    const length = window.end - window.start + 1;
    const position = length <= 1 ? -2 : -(window.end - first) / (length - 1);
    score += weights.truePositive * scaledSigmoid(position);
  }
  let falsePositives = 0;
  for (const row of scored) {
    if (windows.some((window) => row >= window.start && row <= window.end)) continue;
    falsePositives += 1;
    const preceding = windows.filter((window) => window.end < row).at(-1);
    if (!preceding) {
      score -= weights.falsePositive;
      continue;
    }
    const length = preceding.end - preceding.start + 1;
    const distance = length <= 1 ? 2 : (row - preceding.end) / (length - 1);
    score += weights.falsePositive * scaledSigmoid(distance);
  }
  return { score, windows: windows.length, windowsFound, falsePositives, delays };
}

/**
 * NAB's normalisation over a set of files: 100 x (raw - null) / (perfect - null), where null is a
 * detector that never fires (-A_FN per window) and perfect finds every window at its first row.
 */
export function nabNormalised(scores: readonly NabFileScore[], weights = NAB_STANDARD): number {
  const raw = scores.reduce((sum, file) => sum + file.score, 0);
  const windows = scores.reduce((sum, file) => sum + file.windows, 0);
  const none = -weights.falseNegative * windows;
  const perfect = weights.truePositive * windows;
  return perfect === none ? 0 : (100 * (raw - none)) / (perfect - none);
}
