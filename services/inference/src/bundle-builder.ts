/**
 * From readings of normal operation to a model bundle on disk: the same feature pipeline the
 * preprocessor runs, the autoencoder trained on its output, and the training scores measured
 * with the same runtime that will score in service.
 */
import {
  AssetFeaturePipeline,
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  decodeDenseLayers,
  DenseNetwork,
  ReconstructionScorer,
  residualScaleOf,
  writeBundle,
  type BundleManifest,
  type FeatureSettings,
  type LayersModelJson,
  type ScoreSummary,
} from '@vigil/shared';
import { trainDenseAutoencoder, WEIGHTS_FILE, type TrainOptions } from './trainer.js';

export interface BuildBundleOptions {
  name: string;
  version: string;
  featureSettings: FeatureSettings;
  train: TrainOptions;
}

/** Feature vectors of the readings that are past warm-up (scaler learned, window full). */
export function featuresOfReadings(
  readings: Iterable<Record<string, number>>,
  settings: FeatureSettings,
): { features: number[][]; rejected: number; pipeline: AssetFeaturePipeline } {
  const pipeline = new AssetFeaturePipeline(settings);
  const features: number[][] = [];
  let rejected = 0;
  for (const channels of readings) {
    const result = pipeline.process(channels);
    if (!result.ok) rejected += 1;
    else if (!result.warmup) features.push(result.features);
  }
  return { features, rejected, pipeline };
}

export interface TrainedBundle {
  manifest: BundleManifest;
  modelJson: unknown;
  weights: Uint8Array;
  network: DenseNetwork;
  scorer: ReconstructionScorer;
}

/** Trains a bundle on readings of normal operation (warm-up readings are skipped) and writes it. */
export async function buildBundle(
  readings: Array<Record<string, number>>,
  outDir: string,
  options: BuildBundleOptions,
): Promise<BundleManifest> {
  const { features } = featuresOfReadings(readings, options.featureSettings);
  const trained = await trainBundle(features, options);
  await writeBundle(outDir, trained.manifest, trained.modelJson, { [WEIGHTS_FILE]: trained.weights });
  return trained.manifest;
}

/** Trains on feature vectors, in memory: the bundle, its network and a scorer ready to use. */
export async function trainBundle(features: number[][], options: BuildBundleOptions): Promise<TrainedBundle> {
  if (features.length < options.train.batchSize) {
    throw new Error(
      `only ${features.length} samples left after the scaler warm-up (${options.featureSettings.scalerWarmup}) ` +
        `and window (${options.featureSettings.windowSize}): give more normal data`,
    );
  }
  const trained = await trainDenseAutoencoder(features, options.train);
  const weightBuffer = trained.weights.buffer.slice(
    trained.weights.byteOffset,
    trained.weights.byteOffset + trained.weights.byteLength,
  ) as ArrayBuffer;
  const network = new DenseNetwork(decodeDenseLayers(trained.modelJson as unknown as LayersModelJson, weightBuffer));
  const { channels, features: windowFeatures, windowSize, scalerWarmup } = options.featureSettings;
  const residualScale = residualScaleOf(network, features);
  const scorer = new ReconstructionScorer(network, channels, windowFeatures.length, residualScale);
  const scores = features.map((vector) => scorer.score(vector).score);

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    name: options.name,
    version: options.version,
    kind: 'dense-autoencoder',
    createdAt: new Date().toISOString(),
    featureSpec: { channels: [...channels], features: [...windowFeatures], windowSize, scalerWarmup },
    featureNames: channels.flatMap((channel) => windowFeatures.map((feature) => `${channel}.${feature}`)),
    training: {
      samples: features.length,
      epochs: options.train.epochs,
      finalLoss: trained.finalLoss,
      backend: trained.backend,
      residualScale,
      scores: summarise(scores),
    },
  };
  return { manifest, modelJson: trained.modelJson, weights: trained.weights, network, scorer };
}

export function summarise(values: number[]): ScoreSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1);
  const variance = sorted.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(sorted.length, 1);
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { mean, std: Math.sqrt(variance), p50: quantile(0.5), p99: quantile(0.99), max: sorted.at(-1) ?? 0 };
}
