/**
 * Alarms judged as events, the way an operator meets them: which labelled anomalies (windows: runs
 * of anomalous rows) an alarm began in, how long after the window began, and how many alarms began
 * outside every window, per day of data. A detection is the row an alarm began; its end is not one.
 */
export interface LabelledWindow {
  start: number;
  end: number;
}

export interface EventMetrics {
  windows: number;
  windowsFound: number;
  /** Seconds from each found window's first row to the first alarm in it. */
  delaysS: number[];
  falseAlarmEvents: number;
  /** Days of data outside the windows (the time false alarms had to happen in). */
  normalDays: number;
}

/** Runs of true labels, as inclusive row ranges. */
export function windowsOf(labels: readonly boolean[]): LabelledWindow[] {
  const windows: LabelledWindow[] = [];
  labels.forEach((label, row) => {
    const last = windows.at(-1);
    if (label && last && last.end === row - 1) last.end = row;
    else if (label) windows.push({ start: row, end: row });
  });
  return windows;
}

export function eventMetrics(windows: readonly LabelledWindow[], detections: readonly number[], timestamps: readonly number[]): EventMetrics {
  const delaysS: number[] = [];
  for (const window of windows) {
    const first = detections.find((row) => row >= window.start && row <= window.end);
    if (first !== undefined) delaysS.push(((timestamps[first] as number) - (timestamps[window.start] as number)) / 1000);
  }
  const inWindow = (row: number) => windows.some((window) => row >= window.start && row <= window.end);
  const windowMs = windows.reduce((sum, window) => sum + ((timestamps[window.end] as number) - (timestamps[window.start] as number)), 0);
  const spanMs = timestamps.length > 1 ? (timestamps.at(-1) as number) - (timestamps[0] as number) : 0;
  return {
    windows: windows.length,
    windowsFound: delaysS.length,
    delaysS,
    falseAlarmEvents: detections.filter((row) => !inWindow(row)).length,
    normalDays: Math.max(0, spanMs - windowMs) / 86_400_000,
  };
}

export function addEventMetrics(a: EventMetrics, b: EventMetrics): EventMetrics {
  return {
    windows: a.windows + b.windows,
    windowsFound: a.windowsFound + b.windowsFound,
    delaysS: [...a.delaysS, ...b.delaysS],
    falseAlarmEvents: a.falseAlarmEvents + b.falseAlarmEvents,
    normalDays: a.normalDays + b.normalDays,
  };
}

export const NO_EVENTS: EventMetrics = { windows: 0, windowsFound: 0, delaysS: [], falseAlarmEvents: 0, normalDays: 0 };
