/**
 * The default detector (what a device runs with no settings) on labelled data, streamed causally:
 * learn from the benchmark's learning rows (or a separate normal run), then decide one row at a
 * time, no look-ahead, through the preprocessor's feature pipeline with the device's default
 * feature settings, the detector and the surprise threshold: the services' own classes.
 */
import { DEFAULT_CLEANER_POLICIES, DEFAULT_FEATURE_SPEC, DEFAULT_FORWARD_FILL_LIMIT, PUMP_PHYSICAL_LIMITS, type FeatureSettings } from '@vigil/shared/features';
import { DefaultDetector } from '@vigil/shared/detection';
import { SKAB_COLUMN_MAP, type AssetState } from '@vigil/shared/runtime';
import { featuresOfReadings } from '../../training/src/bundle-builder.js';
import { addConfusion, confusionOf, emptyConfusion, nabCounts, rateScores, type Confusion } from './detection-metrics.js';
import { addEventMetrics, eventMetrics, NO_EVENTS, windowsOf, type EventMetrics } from './event-metrics.js';
import type { LabelledCsv } from './labelled-csv.js';
import { nabProbation, type NabFile } from './nab-dataset.js';
import { nabFileScore, nabNormalised, type NabFileScore } from './nab-score.js';
import type { SkabFile } from './skab-dataset.js';

/** The SKAB leaderboard protocol: learn on each file's first 400 rows, score the rest. */
export const SKAB_LEARN_ROWS = 400;
export const DEFAULT_ROW_NAME = 'default (what a device runs with no settings)';

export interface Series {
  readings: ReadonlyArray<Record<string, number>>;
  timestamps: readonly number[];
}

export interface StreamOutcome {
  /** Flagged after each watched row: anomalous, or changed (a settled new level is not normal). */
  alarms: boolean[];
  /** The asset's state after each watched row. */
  states: AssetState[];
  /** Watched rows (0 = the first) where an alarm began: the detection events. */
  detections: number[];
  surprises: number[];
  /** The alarm's evidence level, for per-row output. */
  level: number;
}

/**
 * Learns from `learn` (the preprocessor's scaler over the whole learning period, then the
 * detector), then watches `watch` through the same pipeline.
 */
export function streamDefault(channels: readonly string[], learn: Series, watch: Series): StreamOutcome {
  const settings: FeatureSettings = {
    ...DEFAULT_FEATURE_SPEC,
    channels: [...channels],
    scalerWarmup: learn.readings.length,
    limits: PUMP_PHYSICAL_LIMITS,
    policies: DEFAULT_CLEANER_POLICIES,
    forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT,
  };
  // The scaler learns over the whole learning period and is then frozen, as training does it.
  const { features: learned, timestamps: learnedTs, pipeline } = featuresOfReadings(learn.readings, settings, learn.timestamps);
  const detector = DefaultDetector.learn(pipeline.names, learned, learnedTs);
  const outcome: StreamOutcome = { alarms: [], states: [], detections: [], surprises: [], level: 0 };
  let state: AssetState = 'warmup';
  watch.readings.forEach((reading, row) => {
    const result = pipeline.process(reading);
    if (result.ok) {
      const detection = detector.detect(result.features, watch.timestamps[row] as number);
      state = detection.decision.state;
      outcome.level = detection.decision.high;
      outcome.surprises.push(detection.surprise);
      if (detection.raised) outcome.detections.push(row);
    } else {
      // A rejected reading changes no state: the asset's last decision stands.
      outcome.surprises.push(0);
    }
    outcome.states.push(state);
    // A settled change is not normal: a fault that persists is still counted as flagged.
    outcome.alarms.push(state === 'anomalous' || state === 'changed');
  });
  return outcome;
}

/** Splits a series at `rows`: the learning period, then the rows watched. */
function splitAt(series: Series, rows: number): { learn: Series; watch: Series } {
  return {
    learn: { readings: series.readings.slice(0, rows), timestamps: series.timestamps.slice(0, rows) },
    watch: { readings: series.readings.slice(rows), timestamps: series.timestamps.slice(rows) },
  };
}

export interface RowScores {
  f1: number;
  far: number;
  mar: number;
  confusion: Confusion;
  events: EventMetrics;
}

export interface SkabDefaultResult extends RowScores {
  /** SKAB's changepoint score, NAB-style (detection-metrics.ts), over the alarms' beginnings. */
  nab: number;
  files: Array<{ name: string; confusion: Confusion; events: EventMetrics }>;
}

export function evaluateSkabDefault(files: readonly SkabFile[]): SkabDefaultResult {
  const channels = Object.values(SKAB_COLUMN_MAP);
  let nab = { score: 0, perfect: 0, none: 0 };
  const results = files.map((file) => {
    const { learn, watch } = splitAt({ readings: file.readings, timestamps: file.timestamps }, SKAB_LEARN_ROWS);
    const outcome = streamDefault(channels, learn, watch);
    const labels = file.anomaly.slice(SKAB_LEARN_ROWS);
    const changepoints = file.changepoint.slice(SKAB_LEARN_ROWS).flatMap((isPoint, row) => (isPoint ? [row] : []));
    const counts = nabCounts(labels.length, changepoints, outcome.detections);
    nab = { score: nab.score + counts.score, perfect: nab.perfect + counts.perfect, none: nab.none + counts.none };
    return { name: file.name, confusion: confusionOf(labels, outcome.alarms), events: eventMetrics(windowsOf(labels), outcome.detections, watch.timestamps) };
  });
  const confusion = results.reduce((total, file) => addConfusion(total, file.confusion), emptyConfusion());
  const events = results.reduce((total, file) => addEventMetrics(total, file.events), NO_EVENTS);
  return { ...rateScores(confusion), confusion, events, nab: nab.perfect === nab.none ? 0 : (100 * (nab.score - nab.none)) / (nab.perfect - nab.none), files: results };
}

export interface NabDefaultResult {
  /** NAB's standard profile, normalised: 0 never fires, 100 perfect. */
  score: number;
  events: EventMetrics;
  files: Array<{ name: string } & NabFileScore>;
}

/** NAB's protocol: learn on each file's probationary rows, stream the rest; NAB's own scoring. */
export function evaluateNabDefault(files: readonly NabFile[]): NabDefaultResult {
  let events = NO_EVENTS;
  const results = files.map((file) => {
    const learnRows = nabProbation(file.values.length);
    const series = { readings: file.values.map((value) => ({ value })), timestamps: file.timestamps };
    const { learn, watch } = splitAt(series, learnRows);
    const outcome = streamDefault(['value'], learn, watch);
    const detections = outcome.detections.map((row) => row + learnRows);
    const scored = file.windows.filter((window) => window.end >= learnRows).map((window) => ({ start: Math.max(0, window.start - learnRows), end: window.end - learnRows }));
    events = addEventMetrics(events, eventMetrics(scored, outcome.detections, watch.timestamps));
    return { name: file.name, ...nabFileScore(file.windows, detections, learnRows) };
  });
  return { score: nabNormalised(results), events, files: results };
}

/**
 * A labelled CSV: learn from its first `learnRows` rows (labelled normal, or the evaluation says
 * so), or from a separate normal run, then watch the rest.
 */
export function evaluateCsvDefault(file: LabelledCsv, learnFrom: LabelledCsv | number): RowScores & { outcome: StreamOutcome; watched: Series; labels: boolean[] } {
  const series = { readings: file.readings, timestamps: file.timestamps };
  let learn: Series;
  let watch: Series;
  let labels: boolean[];
  if (typeof learnFrom === 'number') {
    if (learnFrom >= file.readings.length) throw new Error(`--learn-rows ${learnFrom} leaves nothing to watch in ${file.readings.length} rows`);
    if (file.labels.slice(0, learnFrom).some(Boolean)) throw new Error(`the first ${learnFrom} rows hold labelled anomalies: learn from fewer (--learn-rows) or from a normal run (--learn-from)`);
    ({ learn, watch } = splitAt(series, learnFrom));
    labels = file.labels.slice(learnFrom);
  } else {
    const missing = file.channels.filter((channel) => !learnFrom.channels.includes(channel));
    if (missing.length > 0) throw new Error(`${learnFrom.name} lacks the channels ${missing.join(', ')} that ${file.name} has`);
    learn = { readings: learnFrom.readings, timestamps: learnFrom.timestamps };
    watch = series;
    labels = file.labels;
  }
  const outcome = streamDefault(file.channels, learn, watch);
  const confusion = confusionOf(labels, outcome.alarms);
  return { ...rateScores(confusion), confusion, events: eventMetrics(windowsOf(labels), outcome.detections, watch.timestamps), outcome, watched: watch, labels };
}
