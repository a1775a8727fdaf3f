/**
 * The default detector (what a device runs with no settings) on labelled data, streamed causally:
 * learn from the benchmark's learning rows, then decide one row at a time, no look-ahead.
 */
import {
  AssetFeaturePipeline,
  DEFAULT_CLEANER_POLICIES,
  DEFAULT_FEATURE_SPEC,
  DEFAULT_FORWARD_FILL_LIMIT,
  DefaultDetector,
  PUMP_PHYSICAL_LIMITS,
  SKAB_COLUMN_MAP,
  type FeatureSettings,
} from '@vigil/shared';
import { confusionOf, addConfusion, emptyConfusion, rateScores, type Confusion } from './detection-metrics.js';
import { nabFileScore, nabNormalised, type NabFileScore } from './nab-score.js';
import { nabProbation, type NabFile } from './nab-dataset.js';
import type { SkabFile } from './skab-dataset.js';

export const SKAB_LEARN_ROWS = 400;

export interface StreamOutcome {
  /** Alarm state after each scored row. */
  alarms: boolean[];
  /** Scored rows (0 = first row after learning) where an alarm began. */
  detections: number[];
  surprises: number[];
}

/**
 * Learns on the first `learnRows` readings, then streams the rest, through the preprocessor's
 * feature pipeline with the device's default feature settings (the scaler learned on the learning
 * rows, as the benchmark's protocol gives them) and the default detector.
 */
export function streamDefault(
  channels: readonly string[],
  readings: ReadonlyArray<Record<string, number>>,
  timestamps: readonly number[],
  learnRows: number,
): StreamOutcome {
  const settings: FeatureSettings = {
    ...DEFAULT_FEATURE_SPEC,
    channels: [...channels],
    scalerWarmup: learnRows,
    limits: PUMP_PHYSICAL_LIMITS,
    policies: DEFAULT_CLEANER_POLICIES,
    forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT,
  };
  const scalerPass = new AssetFeaturePipeline(settings);
  for (const reading of readings.slice(0, learnRows)) scalerPass.process(reading);
  const pipeline = new AssetFeaturePipeline(settings, scalerPass.scalerState());
  const learned: number[][] = [];
  const learnedTs: number[] = [];
  readings.slice(0, learnRows).forEach((reading, row) => {
    const result = pipeline.process(reading);
    if (result.ok && !result.warmup) {
      learned.push(result.features);
      learnedTs.push(timestamps[row] as number);
    }
  });
  const detector = DefaultDetector.learn(pipeline.names, learned, learnedTs);
  const alarms: boolean[] = [];
  const detections: number[] = [];
  const surprises: number[] = [];
  let alarm = false;
  for (let row = learnRows; row < readings.length; row += 1) {
    const result = pipeline.process(readings[row] as Record<string, number>);
    if (result.ok) {
      const detection = detector.detect(result.features, timestamps[row] as number);
      alarm = detection.decision.state === 'anomalous';
      surprises.push(detection.surprise);
      if (detection.raised) detections.push(row - learnRows);
    } else {
      // A rejected reading changes no state: the asset's last decision stands.
      surprises.push(0);
    }
    alarms.push(alarm);
  }
  return { alarms, detections, surprises };
}

export interface SkabDefaultResult {
  f1: number;
  far: number;
  mar: number;
  confusion: Confusion;
  files: Array<{ name: string; confusion: Confusion; events: number }>;
}

export function evaluateSkabDefault(files: readonly SkabFile[]): SkabDefaultResult {
  const channels = Object.values(SKAB_COLUMN_MAP);
  const results = files.map((file) => {
    const outcome = streamDefault(channels, file.readings, file.timestamps, SKAB_LEARN_ROWS);
    return { name: file.name, confusion: confusionOf(file.anomaly.slice(SKAB_LEARN_ROWS), outcome.alarms), events: outcome.detections.length };
  });
  const confusion = results.reduce((total, file) => addConfusion(total, file.confusion), emptyConfusion());
  return { ...rateScores(confusion), confusion, files: results };
}

export interface NabDefaultResult {
  score: number;
  windows: number;
  windowsFound: number;
  falsePositives: number;
  files: Array<{ name: string } & NabFileScore>;
}

export function evaluateNabDefault(files: readonly NabFile[]): NabDefaultResult {
  const results = files.map((file) => {
    const learnRows = nabProbation(file.values.length);
    const outcome = streamDefault(['value'], file.values.map((value) => ({ value })), file.timestamps, learnRows);
    const detections = outcome.detections.map((row) => row + learnRows);
    return { name: file.name, ...nabFileScore(file.windows, detections, learnRows) };
  });
  return {
    score: nabNormalised(results),
    windows: results.reduce((sum, file) => sum + file.windows, 0),
    windowsFound: results.reduce((sum, file) => sum + file.windowsFound, 0),
    falsePositives: results.reduce((sum, file) => sum + file.falsePositives, 0),
    files: results,
  };
}
