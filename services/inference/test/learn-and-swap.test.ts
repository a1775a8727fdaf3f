/**
 * Learn mode and hot-swap, end to end in the service: no model at start → it learns from the
 * running pipeline (training in a child process) → scores; a bundle dropped in is swapped in
 * without a restart; a corrupt one is refused and the running model keeps scoring.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Push } from 'zeromq';
import { encodeMessage, SCHEMA_VERSION, type ScoreMessage } from '@vigil/shared/runtime';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { DEFAULT_FEATURE_SETTINGS, simulatedNormalReadings, TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { waitFor } from '../../../test/harness/ports.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';
import type { Inference } from '../src/inference.js';

describe('learn mode (autoencoder) and hot-swap (in-process, real ZeroMQ, training in a child process)', { timeout: 180_000 }, () => {
  let service: Inference;
  let upstream: Push;
  let modelPath: string;
  let opsPort: number;
  let scores: ScoreMessage[];
  let inference: InferenceUnderTest;
  let seq = 0;
  let features: number[][];

  before(async () => {
    modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    features = featuresOfReadings(simulatedNormalReadings(3000, 21), TEST_FEATURE_SETTINGS).features;
    inference = await startInferenceUnderTest({
      modelPath,
      modelWatchMs: 200,
      features: TEST_FEATURE_SETTINGS.features,
      windowSize: TEST_FEATURE_SETTINGS.windowSize,
      learn: { samples: 400, epochs: 3, model: 'autoencoder' },
    });
    ({ service, upstream, opsPort, scores } = inference);
  });

  after(() => inference.stop());

  const send = async (count: number) => {
    for (let i = 0; i < count; i += 1) {
      seq += 1;
      const vector = features[seq % features.length] as number[];
      await upstream.send(
        encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'p', seq, ts: Date.now(), ingestTs: Date.now(), features: vector, warmup: false, imputed: [] }),
      );
    }
    await waitFor(`score ${seq}`, () => scores.some((score) => score.seq === seq) || undefined, 10_000);
  };
  const loads = async (outcome: string) => metricSum(await scrape(opsPort), 'vigil_model_loads_total', { outcome });

  it('with no model and model autoencoder, passes samples on unscored while it learns, then scores with the model it trained', async () => {
    const bundleInService = () => service.bundle;
    assert.equal(bundleInService(), undefined);
    await send(400);
    assert.ok(scores.every((score) => score.warmup && score.model.version === 'learning'));
    await waitFor('the learned model', async () => (await loads('ok')) === 1 || undefined, 120_000, 250);
    await send(20);
    const last = scores.at(-1) as ScoreMessage;
    assert.equal(last.warmup, false);
    assert.equal(last.model.name, 'learned-dense-ae');
    assert.ok(last.score > 0);
    assert.equal(bundleInService()?.manifest.featureSpec.windowSize, TEST_FEATURE_SETTINGS.windowSize);
    // Shipped as INT8 by default, calibrated on the samples it learned from.
    assert.equal(bundleInService()?.manifest.precision, 'int8');
    assert.equal(bundleInService()?.manifest.calibrationSamples, bundleInService()?.manifest.training.samples);
    assert.equal(bundleInService()?.precision, 'int8');
    assert.equal(metricSum(await scrape(opsPort), 'vigil_model_info', { name: 'learned-dense-ae', format: 'int8' }), 1);
  });

  it('swaps in a bundle dropped into the model folder, once, without a restart', async () => {
    const staged = `${modelPath}.incoming`;
    await cp(await trainTestBundle(), staged, { recursive: true });
    await rename(modelPath, `${modelPath}.old`);
    await rename(staged, modelPath);
    await waitFor('the swapped model', async () => (await loads('ok')) === 2 || undefined, 10_000, 100);
    await send(10);
    assert.equal(scores.at(-1)?.model.name, 'test-pump-ae');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await loads('ok'), 2, 'an unchanged bundle is not loaded again');
  });

  it('refuses a corrupt bundle and keeps the running model', async () => {
    const staged = `${modelPath}.corrupt`;
    await cp(modelPath, staged, { recursive: true });
    await writeFile(join(staged, 'weights.bin'), Buffer.from('not weights'));
    await rename(modelPath, `${modelPath}.old2`);
    await rename(staged, modelPath);
    await waitFor('the refusal', async () => (await loads('rejected')) === 1 || undefined, 10_000, 100);
    await send(10);
    assert.equal(scores.at(-1)?.model.name, 'test-pump-ae');
    assert.equal(scores.at(-1)?.warmup, false);
  });
});

describe('learn mode on no settings: the default detector', { timeout: 120_000 }, () => {
  let inference: InferenceUnderTest;
  let seq = 0;

  after(() => inference?.stop());

  it('learns the default detector from the running pipeline at its sample period, then sends calibrated scores', async () => {
    const modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    // What the preprocessor sends on no settings: each channel's standardised reading, at 10 Hz.
    const readings = simulatedNormalReadings(2000, 22);
    const { features } = featuresOfReadings(readings, DEFAULT_FEATURE_SETTINGS);
    inference = await startInferenceUnderTest({ modelPath, modelWatchMs: 200, learn: { samples: 600 } });
    const start = Date.UTC(2026, 0, 1);
    const send = async (vector: number[]) => {
      seq += 1;
      await inference.upstream.send(
        encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'p', seq, ts: start + seq * 100, ingestTs: Date.now(), features: vector, warmup: false, imputed: [] }),
      );
    };
    for (const vector of features.slice(0, 600)) await send(vector);
    await waitFor('the learned detector', () => inference.service.bundle || undefined, 60_000, 100);
    assert.equal(inference.service.bundle?.manifest.kind, 'auto-detector');
    assert.equal(inference.service.bundle?.manifest.name, 'learned-detector');
    for (const vector of features.slice(600, 700)) await send(vector);
    // A reading far outside what it learned: every channel moved by ten of its learned spreads.
    await send(features[700]!.map((value) => value + 10));
    await waitFor('scores after learning', () => inference.scores.some((score) => score.seq === seq) || undefined, 10_000);
    const scored = inference.scores.filter((score) => !score.warmup);
    assert.ok(scored.length >= 100, `${scored.length} scored`);
    for (const score of scored) {
      assert.equal(score.calibrated?.samplePeriodMs, 100, 'calibrated surprises, learned at 10 Hz');
      const weight = score.calibrated?.weight ?? 0;
      assert.ok(weight > 0 && weight <= 1, `each sample's share of an independent observation: ${weight}`);
    }
    const normal = scored.slice(0, -1).map((score) => score.score);
    const outlier = scored.at(-1)?.score ?? 0;
    assert.ok(Math.max(...normal) < 6, `normal surprises stay below a one-in-a-million (max ${Math.max(...normal).toFixed(2)})`);
    assert.ok(outlier > 2 * Math.max(...normal), `the outlier (${outlier.toFixed(1)}) stands out from normal (max ${Math.max(...normal).toFixed(2)})`);
    // The machine moves to that level and holds it: after the settle time (a tenth of the 600
    // learned samples) the detector takes it as a new level, says so once, and judges from it.
    const held = seq;
    for (const vector of features.slice(701, 821)) await send(vector.map((value) => value + 10));
    await waitFor('scores at the new level', () => inference.scores.some((score) => score.seq === seq) || undefined, 10_000);
    const atNewLevel = inference.scores.filter((score) => score.seq > held);
    const taken = atNewLevel.filter((score) => score.calibrated?.newLevel === true);
    assert.equal(taken.length, 1, 'the new level is taken once');
    assert.ok((taken[0]?.seq ?? 0) - held >= 55 && (taken[0]?.seq ?? 0) - held <= 70, `taken after the settle time: ${(taken[0]?.seq ?? 0) - held} samples`);
    assert.ok(atNewLevel.slice(-20).every((score) => score.calibrated?.changedLevel === true && score.score < 6), 'then judged from it: changed, and ordinary there');
  });
});
