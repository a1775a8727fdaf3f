/**
 * The lean runtime against TensorFlow.js itself: same weights, same inputs, same outputs.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConvNetwork, loadBundle, ModelFormatError, networkOf } from '@vigil/shared/model';
import { CONV_TEST_FEATURE_SETTINGS, simulatedNormalReadings, TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { loadTfjsReference } from '../../../test/harness/tfjs-reference.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';

let bundleDir: string;

before(async () => {
  bundleDir = await trainTestBundle();
});

async function copyBundle(): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'vigil-bundle-copy-')), 'bundle');
  await cp(bundleDir, dir, { recursive: true });
  return dir;
}

describe('dense runtime', () => {
  it('matches TensorFlow.js predict to 1e-5 on real feature vectors', async () => {
    const bundle = await loadBundle(bundleDir);
    const reference = await loadTfjsReference(tf, bundleDir);
    const { features } = featuresOfReadings(simulatedNormalReadings(2000, 1234), TEST_FEATURE_SETTINGS);
    const batch = features.slice(0, 300);
    const expected = (reference.predict(tf.tensor2d(batch)) as tf.Tensor).arraySync() as number[][];
    let maxDifference = 0;
    for (const [row, input] of batch.entries()) {
      const output = networkOf(bundle).predict(input);
      for (const [column, value] of (expected[row] as number[]).entries()) {
        maxDifference = Math.max(maxDifference, Math.abs(value - (output[column] as number)));
      }
    }
    assert.ok(maxDifference <= 1e-5, `max |runtime - tfjs| = ${maxDifference}`);
    assert.ok(maxDifference > 0 || batch.length > 0);
  });

  it('records what the model expects and how it trained', async () => {
    const loaded = await loadBundle(bundleDir);
    const { manifest } = loaded;
    const network = networkOf(loaded);
    assert.equal(manifest.kind, 'dense-autoencoder');
    assert.equal(network.inputSize, manifest.featureNames.length);
    assert.equal(manifest.featureNames[0], 'vibration1.mean');
    assert.equal(manifest.training.residualScale.length, network.inputSize);
    assert.ok(manifest.training.samples > 1000);
    assert.ok(manifest.training.scores.p99 >= manifest.training.scores.p50);
  });

  it('refuses a bundle with a reason when it is corrupt or inconsistent', async () => {
    const missingManifest = await copyBundle();
    await writeFile(join(missingManifest, 'bundle.json'), '{not json');
    await assert.rejects(loadBundle(missingManifest), (error: Error) => error instanceof ModelFormatError && /bundle.json is not JSON/.test(error.message));

    const truncated = await copyBundle();
    const weights = await readFile(join(truncated, 'weights.bin'));
    await writeFile(join(truncated, 'weights.bin'), weights.subarray(0, weights.length - 4));
    await assert.rejects(loadBundle(truncated), /shorter than model.json says/);

    const wrongFeatures = await copyBundle();
    const manifest = JSON.parse(await readFile(join(wrongFeatures, 'bundle.json'), 'utf8'));
    manifest.featureSpec.features = ['mean', 'std'];
    manifest.featureNames = manifest.featureSpec.channels.flatMap((c: string) => [`${c}.mean`, `${c}.std`]);
    manifest.training.residualScale = manifest.training.residualScale.slice(0, manifest.featureNames.length);
    await writeFile(join(wrongFeatures, 'bundle.json'), JSON.stringify(manifest));
    await assert.rejects(loadBundle(wrongFeatures), /declares 16 features/);

    const newerFormat = await copyBundle();
    const newer = JSON.parse(await readFile(join(newerFormat, 'bundle.json'), 'utf8'));
    newer.formatVersion = 99;
    await writeFile(join(newerFormat, 'bundle.json'), JSON.stringify(newer));
    await assert.rejects(loadBundle(newerFormat), /formatVersion 99/);

    await assert.rejects(loadBundle(join(tmpdir(), 'no-such-bundle-here')), /bundle.json is missing/);
  });
});

describe('conv runtime', () => {
  let convDir: string;

  before(async () => {
    convDir = await trainTestBundle({ kind: 'conv-autoencoder', samples: 4000, epochs: 4 });
  });

  it('matches TensorFlow.js predict to 1e-5 on real windows', async () => {
    const bundle = await loadBundle(convDir);
    assert.equal(bundle.manifest.kind, 'conv-autoencoder');
    assert.ok(bundle.network instanceof ConvNetwork);
    const reference = await loadTfjsReference(tf, convDir);
    const { features } = featuresOfReadings(simulatedNormalReadings(2500, 4321), CONV_TEST_FEATURE_SETTINGS);
    const batch = features.slice(0, 200);
    const { windowSize: steps, channels } = { windowSize: CONV_TEST_FEATURE_SETTINGS.windowSize, channels: CONV_TEST_FEATURE_SETTINGS.channels.length };
    // TF.js takes [steps][channels]; the feature vector is channel-major.
    const windows = batch.map((row) => Array.from({ length: steps }, (_, t) => Array.from({ length: channels }, (_, c) => row[c * steps + t] as number)));
    const expected = (reference.predict(tf.tensor3d(windows)) as tf.Tensor).arraySync() as number[][][];
    let maxDifference = 0;
    let largest = 0;
    for (const [row, input] of batch.entries()) {
      const output = bundle.network.predict(input);
      for (let t = 0; t < steps; t += 1) {
        for (let c = 0; c < channels; c += 1) {
          const value = (expected[row] as number[][])[t]?.[c] as number;
          largest = Math.max(largest, Math.abs(value));
          maxDifference = Math.max(maxDifference, Math.abs(value - (output[c * steps + t] as number)));
        }
      }
    }
    assert.ok(largest > 0.1, 'the outputs are not all near zero');
    assert.ok(maxDifference <= 1e-5, `max |runtime - tfjs| = ${maxDifference}`);
  });

  it('refuses a conv bundle whose features are not the window itself', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vigil-conv-copy-')), 'bundle');
    await cp(convDir, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8'));
    await writeFile(join(dir, 'bundle.json'), JSON.stringify({ ...manifest, featureSpec: { ...manifest.featureSpec, features: ['mean'] } }));
    await assert.rejects(loadBundle(dir), /featureSpec.features must be \["series"\]/);
  });
});
