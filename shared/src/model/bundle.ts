/**
 * The model bundle: a folder with bundle.json (what the model is and what it expects) beside the
 * network in the standard TF.js layers format. Written atomically (a temporary folder renamed
 * into place) so a reader never sees half a bundle; validated on load so a corrupt or mismatched
 * bundle is refused with a reason rather than scoring garbage.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { FeatureSpec } from '../features/feature-pipeline.js';
import { featureNames, isWindowFeature } from '../features/window-features.js';
import { DenseNetwork, type AutoencoderNetwork } from './dense-runtime.js';
import { Int8Network, INT8_MODEL_FILE, INT8_WEIGHTS_FILE } from './int8-network.js';
import { ConvNetwork } from './conv-runtime.js';
import { ForestScorer } from './forest-scorer.js';
import { IsolationForest } from './isolation-forest.js';
import { ReconstructionScorer, type ScoredSample } from './reconstruction-scorer.js';
import { DetectorScorer } from './detector-scorer.js';
import { isAutoDetectorModel, type AutoDetectorModel } from '../detection/auto-detector.js';
import { valuesPerChannel } from '../features/window-features.js';
import { decodeConvLayers, decodeDenseLayers, ModelFormatError, parseLayersModelJson, weightPaths, type LayersModelJson } from './tfjs-layers-format.js';

export const BUNDLE_FORMAT = 'vigil-model-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'bundle.json';
export const MODEL_FILE = 'model.json';
export const FOREST_FILE = 'forest.json';
export const DETECTOR_FILE = 'detector.json';

/**
 * auto-detector: the default; built from the learning period with no training run (detection/
 * auto-detector.ts), calibrated scores (surprise), per-sensor features (detector.json).
 * dense-autoencoder: window summaries (mean, std, ...) per channel through dense layers.
 * conv-autoencoder: the window itself (`series`) through 1-D convolutions over time.
 * isolation-forest: window summaries through random isolation trees (forest.json); no network.
 */
export type ModelKind = 'auto-detector' | 'dense-autoencoder' | 'conv-autoencoder' | 'isolation-forest';
export const MODEL_KINDS: readonly ModelKind[] = ['auto-detector', 'dense-autoencoder', 'conv-autoencoder', 'isolation-forest'];

/** What a user asks for (`--model`, VIGIL_INFERENCE_LEARN_MODEL): the family, not the exact kind. */
export type ModelChoice = 'auto' | 'autoencoder' | 'isolation-forest';
export const MODEL_CHOICES: readonly ModelChoice[] = ['auto', 'autoencoder', 'isolation-forest'];

/**
 * The model kind for a choice and a feature spec, or an error naming the conflict: the one place
 * these rules live. The window itself (`series`) is read by convolutions, whatever was chosen
 * (auto) or only by them (autoencoder); summaries go to the default detector (auto), the dense
 * autoencoder or the forest.
 */
export function modelKindFor(features: readonly string[], choice: ModelChoice = 'autoencoder'): ModelKind {
  const series = features.includes('series');
  if (series && features.length > 1) throw new Error(`'series' (the window itself, for the conv autoencoder) cannot be mixed with summaries: ${features.join(',')}`);
  if (choice === 'isolation-forest') {
    if (series) throw new Error('an isolation forest reads window summaries: features cannot be series');
    return 'isolation-forest';
  }
  if (series) return 'conv-autoencoder';
  return choice === 'auto' ? 'auto-detector' : 'dense-autoencoder';
}
/**
 * How the network's weights ship. fp32: the standard TF.js layers format (model.json +
 * weights.bin), readable by TensorFlow.js itself. int8: weights as int8 with a scale per output
 * unit and calibrated activation ranges (model.int8.json + weights.int8.bin), ~4x smaller.
 */
export type ModelPrecision = 'fp32' | 'int8';
export const MODEL_PRECISIONS: readonly ModelPrecision[] = ['fp32', 'int8'];

export interface ScoreSummary {
  mean: number;
  std: number;
  p50: number;
  p99: number;
  max: number;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  name: string;
  version: string;
  kind: ModelKind;
  /** Absent in bundles written before INT8 shipped: those are fp32. */
  precision?: ModelPrecision;
  /** For int8: how many normal samples calibrated the activation ranges. */
  calibrationSamples?: number;
  createdAt: string;
  featureSpec: FeatureSpec;
  featureNames: string[];
  training: {
    samples: number;
    epochs: number;
    finalLoss: number;
    backend: string;
    /** Typical reconstruction error per feature on the training data (the scorer's units). */
    residualScale: number[];
    /** Reconstruction scores of the training samples: a prior for the threshold. */
    scores: ScoreSummary;
  };
}

interface LoadedBundleBase {
  dir: string;
  manifest: BundleManifest;
  /** Bytes of the model's files (model description and weights, or the forest). */
  sizeBytes: number;
  inputSize: number;
  precision: ModelPrecision;
}

/** An autoencoder's bundle holds its network; an isolation forest's the forest; the default detector's its model. */
export type LoadedBundle =
  | (LoadedBundleBase & { network: AutoencoderNetwork; forest?: undefined; detector?: undefined })
  | (LoadedBundleBase & { forest: IsolationForest; network?: undefined; detector?: undefined })
  | (LoadedBundleBase & { detector: AutoDetectorModel; network?: undefined; forest?: undefined });

/** What turns a feature vector into a score and each sensor's share of it. */
export interface AnomalyScorer {
  /** `asset`: a scorer with memory (the default detector) keeps one per asset. */
  score(features: ArrayLike<number>, asset?: string): ScoredSample;
  /** Present when scores are calibrated surprises (-log10 p), with the sample period they were learned at. */
  readonly calibrated?: { samplePeriodMs: number };
}

export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const manifest = validateManifest((await readJsonFile(join(dir, MANIFEST_FILE))).value);
  const expected = manifest.featureNames.length;
  if (manifest.kind === 'auto-detector') {
    const { value, bytes } = await readJsonFile(join(dir, DETECTOR_FILE));
    if (!isAutoDetectorModel(value)) throw new ModelFormatError(`${DETECTOR_FILE} is not a valid detector model`);
    if (value.channels.length !== expected) throw new ModelFormatError(`detector reads ${value.channels.length} features but the bundle declares ${expected}`);
    return { dir, manifest, detector: value, sizeBytes: bytes, inputSize: expected, precision: 'fp32' };
  }
  if (manifest.kind === 'isolation-forest') {
    const { value, bytes } = await readJsonFile(join(dir, FOREST_FILE));
    const forest = IsolationForest.fromJSON(value);
    if (forest.inputSize !== expected) throw new ModelFormatError(`forest reads ${forest.inputSize} features but the bundle declares ${expected}`);
    return { dir, manifest, forest, sizeBytes: bytes, inputSize: expected, precision: 'fp32' };
  }
  const { network, sizeBytes } = manifest.precision === 'int8' ? await loadInt8Network(dir) : await loadFloatNetwork(dir, manifest.kind);
  if (network.inputSize !== expected || network.outputSize !== expected) {
    throw new ModelFormatError(
      `network is ${network.inputSize}→${network.outputSize} but the bundle declares ${expected} features`,
    );
  }
  return { dir, manifest, network, sizeBytes, inputSize: expected, precision: network.precision };
}

/** The autoencoder's network of a bundle; a forest's bundle has none, and says so. */
export function networkOf(bundle: LoadedBundle): AutoencoderNetwork {
  if (!bundle.network) throw new ModelFormatError(`${bundle.dir} holds a ${bundle.manifest.kind}, not an autoencoder`);
  return bundle.network;
}

/** The scorer of a loaded bundle: reconstruction error for an autoencoder, isolation for a forest. */
export function scorerForBundle(bundle: LoadedBundle): AnomalyScorer {
  const { featureSpec, training } = bundle.manifest;
  const perChannel = valuesPerChannel(featureSpec.features, featureSpec.windowSize);
  if (bundle.forest) return new ForestScorer(bundle.forest, featureSpec.channels, perChannel);
  if (bundle.detector) return new DetectorScorer(bundle.detector, featureSpec.channels, perChannel);
  return new ReconstructionScorer(bundle.network, featureSpec.channels, perChannel, training.residualScale);
}

async function loadInt8Network(dir: string): Promise<{ network: AutoencoderNetwork; sizeBytes: number }> {
  const { value: model, bytes } = await readJsonFile(join(dir, INT8_MODEL_FILE));
  const weights = await readFile(join(dir, INT8_WEIGHTS_FILE)).catch(() => {
    throw new ModelFormatError(`${INT8_WEIGHTS_FILE} is missing`);
  });
  return { network: Int8Network.fromArtifacts(model, weights), sizeBytes: bytes + weights.byteLength };
}

async function loadFloatNetwork(dir: string, kind: ModelKind): Promise<{ network: AutoencoderNetwork; sizeBytes: number }> {
  const modelText = await readFile(join(dir, MODEL_FILE), 'utf8').catch(() => {
    throw new ModelFormatError(`${MODEL_FILE} is missing`);
  });
  const model = parseLayersModelJson(modelText);
  const weightBuffers = await Promise.all(
    weightPaths(model).map((path) => {
      if (basename(path) !== path) throw new ModelFormatError(`weight path ${path} leaves the bundle folder`);
      return readFile(join(dir, path));
    }),
  );
  const weights = Buffer.concat(weightBuffers);
  const network = decodeFloatNetwork(kind, model, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer);
  return { network, sizeBytes: weights.byteLength + modelText.length };
}

/** The FP32 network of a model in the TF.js layers format, for the runtime of its kind. */
export function decodeFloatNetwork(kind: ModelKind, model: LayersModelJson, weightData: ArrayBuffer): DenseNetwork | ConvNetwork {
  if (kind === 'conv-autoencoder') {
    const { layers, input } = decodeConvLayers(model, weightData);
    return new ConvNetwork(layers, input);
  }
  return new DenseNetwork(decodeDenseLayers(model, weightData));
}

function validateManifest(value: unknown): BundleManifest {
  const manifest = value as BundleManifest;
  const problems: string[] = [];
  if (manifest?.format !== BUNDLE_FORMAT) problems.push(`format is not ${BUNDLE_FORMAT}`);
  if (manifest?.formatVersion !== BUNDLE_FORMAT_VERSION) {
    problems.push(`formatVersion ${String(manifest?.formatVersion)} is not ${BUNDLE_FORMAT_VERSION}`);
  }
  if (!MODEL_KINDS.includes(manifest?.kind)) problems.push(`kind ${String(manifest?.kind)} is not supported`);
  if (manifest?.kind === 'conv-autoencoder' && JSON.stringify(manifest.featureSpec?.features) !== '["series"]') {
    problems.push('a conv-autoencoder reads the window itself: featureSpec.features must be ["series"]');
  }
  const networkless = manifest?.kind === 'isolation-forest' || manifest?.kind === 'auto-detector';
  if (networkless && manifest.featureSpec?.features?.includes('series')) {
    problems.push(`an ${manifest.kind} reads window summaries: featureSpec.features cannot be series`);
  }
  if (networkless && manifest.precision === 'int8') problems.push(`an ${manifest.kind} has no network to quantise: precision int8 is not supported`);
  if (manifest?.precision !== undefined && !MODEL_PRECISIONS.includes(manifest.precision)) {
    problems.push(`precision ${String(manifest.precision)} is not one of ${MODEL_PRECISIONS.join(', ')}`);
  }
  if (typeof manifest?.name !== 'string' || typeof manifest?.version !== 'string') problems.push('name and version are required');
  const spec = manifest?.featureSpec;
  if (
    !spec ||
    !Array.isArray(spec.channels) ||
    !Array.isArray(spec.features) ||
    !spec.features.every(isWindowFeature) ||
    !Number.isInteger(spec.windowSize) ||
    !Number.isInteger(spec.scalerWarmup)
  ) {
    problems.push('featureSpec is missing or malformed');
  } else if (JSON.stringify(featureNames(spec.channels, spec.features, spec.windowSize)) !== JSON.stringify(manifest.featureNames)) {
    problems.push('featureNames do not follow from featureSpec');
  }
  const scale = manifest?.training?.residualScale;
  // A forest or the detector has no reconstruction, so no residual scale; an autoencoder needs one per feature.
  if (!networkless && (!Array.isArray(scale) || scale.length !== manifest?.featureNames?.length || !scale.every((v) => Number.isFinite(v) && v > 0))) {
    problems.push('training.residualScale must give a positive number per feature');
  }
  if (problems.length > 0) throw new ModelFormatError(`bundle.json: ${problems.join('; ')}`);
  return manifest;
}

/** A JSON file of the bundle and its length (text length: the files are ASCII JSON). */
async function readJsonFile(path: string): Promise<{ value: unknown; bytes: number }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ModelFormatError(`${basename(path)} is missing from the bundle folder`);
  }
  try {
    return { value: JSON.parse(text), bytes: text.length };
  } catch {
    throw new ModelFormatError(`${basename(path)} is not JSON`);
  }
}

/**
 * Writes a bundle atomically: into a sibling temporary folder, then renamed over `dir`.
 * `networkFiles` are the network's files by name (model.json + weights.bin, or the INT8 pair).
 */
export async function writeBundle(dir: string, manifest: BundleManifest, networkFiles: Record<string, Uint8Array | string>): Promise<void> {
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    for (const [name, content] of Object.entries(networkFiles)) await writeFile(join(staging, name), content);
    // The manifest goes last: a folder with a manifest is a complete bundle.
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const previous = `${staging}.old`;
    await rename(dir, previous).catch(() => undefined);
    await rename(staging, dir);
    await rm(previous, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
