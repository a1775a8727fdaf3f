/**
 * The SKAB leaderboard protocol, run through the services' own code: per file, learn on the first
 * 400 rows (scaler, model, threshold), then stream the rest causally, one row at a time, through
 * the feature pipeline, the model and the adaptive threshold; a row is predicted anomalous when
 * the asset's state is anomalous after it. Confusion counts are summed over the 34 files.
 */
import { AdaptiveThreshold, initialThresholdState, type ThresholdSettings } from '@vigil/shared/detection';
import {
  AssetFeaturePipeline,
  DEFAULT_CLEANER_POLICIES,
  DEFAULT_FORWARD_FILL_LIMIT,
  PUMP_CHANNEL_NAMES,
  PUMP_PHYSICAL_LIMITS,
  type FeatureSettings,
  type WindowFeature,
} from '@vigil/shared/features';
import { type ModelPrecision } from '@vigil/shared/model';
import { trainBundle } from '../../training/src/bundle-builder.js';
import type { TrainOptions } from '../../training/src/trainer.js';
import { addConfusion, confusionOf, emptyConfusion, nabCounts, nabScore, rateScores, type Confusion, type NabCounts } from './detection-metrics.js';
import type { SkabFile } from './skab-dataset.js';

export const SKAB_TRAIN_ROWS = 400;

export interface EvalModelConfig {
  /** Short name for --models. */
  id: string;
  name: string;
  kind: 'dense-ae' | 'conv-ae' | 'isolation-forest';
  windowSize: number;
  features: WindowFeature[];
  /** The channels the model reads (default: all eight). */
  channels?: string[];
  train: TrainOptions;
  threshold: Omit<ThresholdSettings, 'warmupSamples'>;
  /** How the model ships (int8: quantized and calibrated on the training rows, as learn mode does). */
  precision?: ModelPrecision;
  /** Share of the training rows held out from the model to warm the threshold up on unseen data. */
  holdoutFraction: number;
}

export interface FileResult {
  name: string;
  confusion: Confusion;
  nab: NabCounts;
  /** False alarms before the fault began and after it ended: they have different causes. */
  falseAlarmsBefore: number;
  falseAlarmsAfter: number;
}

export interface EvalResult {
  model: string;
  f1: number;
  far: number;
  mar: number;
  nab: number;
  confusion: Confusion;
  files: FileResult[];
  seconds: number;
}

export async function evaluateFile(file: SkabFile, config: EvalModelConfig): Promise<FileResult> {
  const featureSettings: FeatureSettings = {
    channels: config.channels ?? [...PUMP_CHANNEL_NAMES],
    features: config.features,
    windowSize: config.windowSize,
    scalerWarmup: SKAB_TRAIN_ROWS,
    limits: PUMP_PHYSICAL_LIMITS,
    policies: DEFAULT_CLEANER_POLICIES,
    forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT,
  };
  // A reading with a channel the pipeline does not know is refused, so unread channels are dropped first.
  const readings = config.channels
    ? file.readings.map((reading) => Object.fromEntries(Object.entries(reading).filter(([channel]) => config.channels?.includes(channel))))
    : file.readings;
  const trainRows = readings.slice(0, SKAB_TRAIN_ROWS);
  // Learn the scaler on the training rows first, so the model trains on features standardised
  // exactly as the rows after them will be (a scaler still learning would shift under it).
  const scalerPass = new AssetFeaturePipeline(featureSettings);
  for (const reading of trainRows) scalerPass.process(reading);
  const pipeline = new AssetFeaturePipeline(featureSettings, scalerPass.scalerState());
  const trainingFeatures: number[][] = [];
  trainRows.forEach((reading, row) => {
    const result = pipeline.process(reading);
    if (result.ok && row >= config.windowSize - 1) trainingFeatures.push(result.features);
  });
  const { fitted, heldOut } = splitTrainingRows(trainingFeatures, config.holdoutFraction, config.windowSize);
  const { scorer } = await trainBundle(fitted, {
    name: config.name,
    version: 'eval',
    featureSettings,
    train: { ...config.train, batchSize: Math.min(config.train.batchSize, fitted.length) },
    precision: config.kind === 'isolation-forest' ? 'fp32' : (config.precision ?? 'fp32'),
    kind: config.kind === 'conv-ae' ? 'conv-autoencoder' : config.kind === 'isolation-forest' ? 'isolation-forest' : 'dense-autoencoder',
  });

  const threshold = new AdaptiveThreshold({ ...config.threshold, warmupSamples: heldOut.length }, initialThresholdState(0));
  for (const features of heldOut) threshold.decide(scorer.score(features).score, 0, true);

  const predictions: boolean[] = [];
  const detections: number[] = [];
  let anomalous = threshold.state.state === 'anomalous';
  readings.slice(SKAB_TRAIN_ROWS).forEach((reading, index) => {
    const result = pipeline.process(reading);
    if (result.ok) {
      const decision = threshold.decide(scorer.score(result.features).score, index, true);
      anomalous = decision.state === 'anomalous';
      // A detection is where an alarm begins; its end is no detection.
      if (decision.changed && decision.state === 'anomalous') detections.push(index);
    }
    // A rejected reading keeps the last decision: the asset's state does not change without data.
    predictions.push(anomalous);
  });
  const labels = file.anomaly.slice(SKAB_TRAIN_ROWS);
  const changepoints = file.changepoint.slice(SKAB_TRAIN_ROWS).flatMap((isPoint, index) => (isPoint ? [index] : []));
  const faultStart = labels.indexOf(true) < 0 ? labels.length : labels.indexOf(true);
  const falseAlarms = (from: number, to: number) => predictions.slice(from, to).filter((predicted, i) => predicted && !labels[from + i]).length;
  return {
    name: file.name,
    confusion: confusionOf(labels, predictions),
    nab: nabCounts(labels.length, changepoints, detections),
    falseAlarmsBefore: falseAlarms(0, faultStart),
    falseAlarmsAfter: falseAlarms(faultStart, labels.length),
  };
}

/** Rows per block when the training rows are split for the model and the threshold. */
export const HOLDOUT_BLOCK_ROWS = 20;

/**
 * Splits the training rows between the model and the threshold's warm-up: every k-th block of
 * HOLDOUT_BLOCK_ROWS rows (k = 1 / fraction) is held out, so both see the whole training period.
 * Holding out the last rows instead failed wherever the rig drifted within its first 400 rows
 * (SKAB other/7: the flow settled 2 l/min lower in rows 300-400): the model had never seen the
 * held-out level, scored it ~1,000x its training scores, and the threshold learned from those
 * scores sat above a fault that tripled the vibration. The rows of a fitted block whose window
 * reaches into a held-out block are dropped from both (purged), so no held-out reading is learnt.
 */
export function splitTrainingRows(rows: number[][], fraction: number, windowSize: number): { fitted: number[][]; heldOut: number[][] } {
  const every = Math.max(2, Math.round(1 / fraction));
  const blockOf = (index: number) => Math.floor(index / HOLDOUT_BLOCK_ROWS);
  const isHeldOut = (index: number) => index >= 0 && blockOf(index) % every === every - 1;
  const fitted: number[][] = [];
  const heldOut: number[][] = [];
  rows.forEach((row, index) => {
    if (isHeldOut(index)) heldOut.push(row);
    else if (!isHeldOut(index - (windowSize - 1))) fitted.push(row);
  });
  return { fitted, heldOut };
}

export async function evaluateSkab(files: SkabFile[], config: EvalModelConfig): Promise<EvalResult> {
  const started = Date.now();
  const results: FileResult[] = [];
  for (const file of files) results.push(await evaluateFile(file, config));
  const confusion = results.reduce((total, result) => addConfusion(total, result.confusion), emptyConfusion());
  const nab = results.reduce(
    (total, result) => ({ score: total.score + result.nab.score, perfect: total.perfect + result.nab.perfect, none: total.none + result.nab.none }),
    { score: 0, perfect: 0, none: 0 },
  );
  return { model: config.name, ...rateScores(confusion), nab: nabScore(nab), confusion, files: results, seconds: (Date.now() - started) / 1000 };
}
