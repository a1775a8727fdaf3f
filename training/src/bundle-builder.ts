/**
 * From readings of normal operation to a model bundle on disk: the same feature pipeline the
 * preprocessor runs, the autoencoder trained on its output, and the training scores measured
 * with the same runtime that will score in service.
 */
import { AssetFeaturePipeline, featureNames, type FeatureSettings, valuesPerChannel } from '@vigil/shared/features';
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  decodeFloatNetwork,
  DEFAULT_ISOLATION_FOREST_OPTIONS,
  DETECTOR_FILE,
  DetectorScorer,
  FOREST_FILE,
  ForestScorer,
  IsolationForest,
  Int8Network,
  modelKindFor,
  INT8_MODEL_FILE,
  MIN_CALIBRATION_SAMPLES,
  MODEL_FILE,
  ReconstructionScorer,
  residualScaleOf,
  writeBundle,
  type AnomalyScorer,
  type AutoencoderNetwork,
  type BundleManifest,
  type LayersModelJson,
  type ModelKind,
  type ModelPrecision,
  type ScoreSummary,
} from '@vigil/shared/model';
import { learnAutoDetector, MIN_LEARNING_SAMPLES } from '@vigil/shared/detection';
import { trainConvAutoencoder, trainDenseAutoencoder, WEIGHTS_FILE, type TrainOptions } from './trainer.js';

export interface BuildBundleOptions {
  name: string;
  version: string;
  featureSettings: FeatureSettings;
  train: TrainOptions;
  /** How the bundle ships; int8 is calibrated on the training samples themselves (real normal data). */
  precision: ModelPrecision;
  /** Which model; by default the one the features call for (`series`: the conv autoencoder). */
  kind?: ModelKind;
  /** Sensor time of each feature vector (ms): the default detector learns the sample period from it. */
  timestamps?: readonly number[];
}

/**
 * Feature vectors of the readings, standardised as the preprocessor will: the scaler learns over
 * the first `scalerWarmup` readings (or all of them, if fewer), then every reading whose window is
 * full becomes a vector. The warm-up readings are reused, not spent: a learning period shorter
 * than the scaler's warm-up still trains. `timestamps` (one per reading) come back for the kept vectors.
 */
export function featuresOfReadings(
  readings: ReadonlyArray<Record<string, number>>,
  settings: FeatureSettings,
  timestamps?: readonly number[],
): { features: number[][]; timestamps: number[]; rejected: number; pipeline: AssetFeaturePipeline } {
  const scalerPass = new AssetFeaturePipeline(settings);
  for (const channels of readings.slice(0, settings.scalerWarmup)) scalerPass.process(channels);
  const pipeline = new AssetFeaturePipeline({ ...settings, scalerWarmup: 0 }, scalerPass.scalerState());
  const features: number[][] = [];
  const kept: number[] = [];
  let rejected = 0;
  readings.forEach((channels, index) => {
    const result = pipeline.process(channels);
    if (!result.ok) rejected += 1;
    else if (!result.warmup) {
      features.push(result.features);
      kept.push(timestamps?.[index] ?? index * 1000);
    }
  });
  return { features, timestamps: kept, rejected, pipeline };
}

export interface TrainedBundle {
  manifest: BundleManifest;
  /** The model's files by name, as writeBundle takes them. */
  files: Record<string, Uint8Array | string>;
  /** Scores as the service will, with the model that ships (INT8 or FP32 network, or the forest). */
  scorer: AnomalyScorer;
}

/** Trains a bundle on readings of normal operation (warm-up readings are skipped) and writes it. */
export async function buildBundle(
  readings: ReadonlyArray<Record<string, number>>,
  outDir: string,
  options: BuildBundleOptions,
): Promise<BundleManifest> {
  const { features, timestamps } = featuresOfReadings(readings, options.featureSettings, options.timestamps);
  const trained = await trainBundle(features, { ...options, timestamps });
  await writeBundle(outDir, trained.manifest, trained.files);
  return trained.manifest;
}

/** Trains on feature vectors, in memory: the bundle, its network and a scorer ready to use. */
export async function trainBundle(features: number[][], options: BuildBundleOptions): Promise<TrainedBundle> {
  const kind = options.kind ?? modelKindFor(options.featureSettings.features);
  if (kind === 'auto-detector') return learnDetectorBundle(features, options);
  if (features.length < options.train.batchSize) {
    throw new Error(
      `only ${features.length} samples left after the scaler warm-up (${options.featureSettings.scalerWarmup}) ` +
        `and window (${options.featureSettings.windowSize}): give more normal data`,
    );
  }
  if (options.precision === 'int8' && features.length < MIN_CALIBRATION_SAMPLES) {
    throw new Error(
      `INT8 calibration needs at least ${MIN_CALIBRATION_SAMPLES} normal samples, got ${features.length}: give more normal data or ship fp32`,
    );
  }
  const { channels, features: windowFeatures, windowSize } = options.featureSettings;
  if (kind === 'isolation-forest') return growForestBundle(features, options);
  if (kind === 'conv-autoencoder' && (windowFeatures.length !== 1 || windowFeatures[0] !== 'series')) {
    throw new Error(`a conv-autoencoder reads the window itself: features must be series, got ${windowFeatures.join(',')}`);
  }
  const trained =
    kind === 'conv-autoencoder'
      ? await trainConvAutoencoder(features, { steps: windowSize, channels: channels.length }, options.train)
      : await trainDenseAutoencoder(features, options.train);
  const weightBuffer = trained.weights.buffer.slice(
    trained.weights.byteOffset,
    trained.weights.byteOffset + trained.weights.byteLength,
  ) as ArrayBuffer;
  const floatNetwork = decodeFloatNetwork(kind, trained.modelJson as unknown as LayersModelJson, weightBuffer);
  // The residual scale and the training scores are measured on the network that ships, so the
  // score's units in service are the ones the threshold prior was computed in.
  const quantized = options.precision === 'int8' ? Int8Network.quantize(floatNetwork, features) : undefined;
  const network: AutoencoderNetwork = quantized ?? floatNetwork;
  const files: Record<string, Uint8Array | string> = quantized
    ? (() => {
        const artifacts = quantized.toArtifacts();
        return { [artifacts.model.weightsFile]: artifacts.weights, [INT8_MODEL_FILE]: JSON.stringify(artifacts.model) };
      })()
    : { [MODEL_FILE]: JSON.stringify(trained.modelJson), [WEIGHTS_FILE]: trained.weights };
  const residualScale = residualScaleOf(network, features);
  const scorer = new ReconstructionScorer(network, channels, valuesPerChannel(windowFeatures, windowSize), residualScale);
  const manifest = manifestFor(kind, options, features, scorer, {
    epochs: options.train.epochs,
    finalLoss: trained.finalLoss,
    backend: trained.backend,
    residualScale,
  });
  if (quantized) manifest.calibrationSamples = features.length;
  return { manifest, files, scorer };
}

/** The manifest of a bundle trained on `features`, with the training scores of its scorer. */
function manifestFor(
  kind: ModelKind,
  options: BuildBundleOptions,
  features: number[][],
  scorer: AnomalyScorer,
  training: Omit<BundleManifest['training'], 'samples' | 'scores'>,
): BundleManifest {
  const { channels, features: windowFeatures, windowSize, scalerWarmup } = options.featureSettings;
  return {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    name: options.name,
    version: options.version,
    kind,
    precision: options.precision,
    createdAt: new Date().toISOString(),
    featureSpec: { channels: [...channels], features: [...windowFeatures], windowSize, scalerWarmup },
    featureNames: featureNames(channels, windowFeatures, windowSize),
    training: { samples: features.length, ...training, scores: summarise(features.map((vector) => scorer.score(vector).score)) },
  };
}

/**
 * An isolation forest instead of an autoencoder: scikit-learn's defaults (100 trees, 256-row
 * subsamples), seeded by the training seed; no epochs, no quantization (its split values are
 * what it is, and ~100 trees of 256 rows are a few hundred KB either way).
 */
function growForestBundle(features: number[][], options: BuildBundleOptions): TrainedBundle {
  const { channels, features: windowFeatures, windowSize } = options.featureSettings;
  if (windowFeatures.includes('series')) throw new Error('an isolation forest reads window summaries: features cannot be series');
  if (options.precision !== 'fp32') throw new Error('an isolation forest ships as it is grown: precision must be fp32');
  const forest = IsolationForest.fit(features, { ...DEFAULT_ISOLATION_FOREST_OPTIONS, seed: options.train.seed });
  const scorer = new ForestScorer(forest, channels, valuesPerChannel(windowFeatures, windowSize));
  const manifest = manifestFor('isolation-forest', options, features, scorer, { epochs: 0, finalLoss: 0, backend: 'vigil isolation forest', residualScale: [] });
  return { manifest, files: { [FOREST_FILE]: JSON.stringify(forest.toJSON()) }, scorer };
}

/**
 * The default detector: built from the learning period in one pass (no epochs, no seed, no
 * quantization), from the feature vectors and their times.
 */
function learnDetectorBundle(features: number[][], options: BuildBundleOptions): TrainedBundle {
  const { channels, features: windowFeatures, windowSize } = options.featureSettings;
  if (windowFeatures.includes('series')) throw new Error('the default detector reads per-sensor values or summaries: features cannot be series');
  if (options.precision !== 'fp32') throw new Error('the default detector has no network to quantise: precision must be fp32');
  if (features.length < MIN_LEARNING_SAMPLES) {
    throw new Error(`only ${features.length} samples to learn from; the detector needs at least ${MIN_LEARNING_SAMPLES}: give more normal data`);
  }
  const timestamps = options.timestamps ?? features.map((_, index) => index * 1000);
  if (timestamps.length !== features.length) throw new Error(`${timestamps.length} timestamps for ${features.length} samples`);
  const model = learnAutoDetector(featureNames(channels, windowFeatures, windowSize), features, timestamps);
  const scorer = new DetectorScorer(model, channels, valuesPerChannel(windowFeatures, windowSize));
  // Scored by a scorer of its own, so the service's streams start as fresh as a new asset's.
  const manifest = manifestFor('auto-detector', options, features, new DetectorScorer(model, channels, valuesPerChannel(windowFeatures, windowSize)), {
    epochs: 0,
    finalLoss: 0,
    backend: 'vigil auto-detector',
    residualScale: [],
  });
  return { manifest, files: { [DETECTOR_FILE]: JSON.stringify(model) }, scorer };
}

export function summarise(values: number[]): ScoreSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1);
  const variance = sorted.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(sorted.length, 1);
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { mean, std: Math.sqrt(variance), p50: quantile(0.5), p99: quantile(0.99), max: sorted.at(-1) ?? 0 };
}
