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
import { encodeMessage, SCHEMA_VERSION, type ScoreMessage } from '@vigil/shared';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { simulatedNormalReadings, TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { waitFor } from '../../../test/harness/ports.js';
import { featuresOfReadings } from '../src/bundle-builder.js';
import type { Inference } from '../src/inference.js';

describe('learn mode and hot-swap (in-process, real ZeroMQ, training in a child process)', { timeout: 180_000 }, () => {
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
    inference = await startInferenceUnderTest({ modelPath, modelWatchMs: 200, learn: { samples: 400, epochs: 3 } });
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

  it('with no model, passes samples on unscored while it learns, then scores with the model it trained', async () => {
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
