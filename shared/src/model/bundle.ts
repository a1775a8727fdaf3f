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
import { DenseNetwork } from './dense-runtime.js';
import { decodeDenseLayers, ModelFormatError, parseLayersModelJson, weightPaths } from './tfjs-layers-format.js';

export const BUNDLE_FORMAT = 'vigil-model-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'bundle.json';
export const MODEL_FILE = 'model.json';

export type ModelKind = 'dense-autoencoder';

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

export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  network: DenseNetwork;
  sizeBytes: number;
}

export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const manifest = validateManifest(await readJson(join(dir, MANIFEST_FILE)));
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
  const network = new DenseNetwork(
    decodeDenseLayers(model, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer),
  );
  const expected = manifest.featureNames.length;
  if (network.inputSize !== expected || network.outputSize !== expected) {
    throw new ModelFormatError(
      `network is ${network.inputSize}→${network.outputSize} but the bundle declares ${expected} features`,
    );
  }
  return { dir, manifest, network, sizeBytes: weights.byteLength + modelText.length };
}

function validateManifest(value: unknown): BundleManifest {
  const manifest = value as BundleManifest;
  const problems: string[] = [];
  if (manifest?.format !== BUNDLE_FORMAT) problems.push(`format is not ${BUNDLE_FORMAT}`);
  if (manifest?.formatVersion !== BUNDLE_FORMAT_VERSION) {
    problems.push(`formatVersion ${String(manifest?.formatVersion)} is not ${BUNDLE_FORMAT_VERSION}`);
  }
  if (manifest?.kind !== 'dense-autoencoder') problems.push(`kind ${String(manifest?.kind)} is not supported`);
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
  } else if (JSON.stringify(featureNames(spec.channels, spec.features)) !== JSON.stringify(manifest.featureNames)) {
    problems.push('featureNames do not follow from featureSpec');
  }
  const scale = manifest?.training?.residualScale;
  if (!Array.isArray(scale) || scale.length !== manifest?.featureNames?.length || !scale.every((v) => Number.isFinite(v) && v > 0)) {
    problems.push('training.residualScale must give a positive number per feature');
  }
  if (problems.length > 0) throw new ModelFormatError(`bundle.json: ${problems.join('; ')}`);
  return manifest;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ModelFormatError(`${basename(path)} is missing from the bundle folder`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelFormatError(`${basename(path)} is not JSON`);
  }
}

/** Writes a bundle atomically: into a sibling temporary folder, then renamed over `dir`. */
export async function writeBundle(
  dir: string,
  manifest: BundleManifest,
  modelJson: unknown,
  weightFiles: Record<string, Uint8Array>,
): Promise<void> {
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, MODEL_FILE), JSON.stringify(modelJson));
    for (const [name, bytes] of Object.entries(weightFiles)) await writeFile(join(staging, name), bytes);
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
