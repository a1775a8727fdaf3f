import assert from 'node:assert/strict';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Push } from 'zeromq';
import { pino } from 'pino';
import { encodeMessage, SCHEMA_VERSION, type FeaturesMessage, type ScoreMessage } from '@vigil/shared/runtime';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { simulatedNormalReadings, TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';
import { loadInferenceConfig } from '../src/config.js';
import { startInference } from '../src/inference.js';

const logger = pino({ level: 'silent' });

describe('inference service (in-process, real ZeroMQ)', () => {
  let upstream: Push;
  let scores: ScoreMessage[];
  let opsPort: number;
  let inference: InferenceUnderTest;

  before(async () => {
    // A copy: the registry beside the model folder is the service's to write, not the fixture's.
    const modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    await cp(await trainTestBundle(), modelPath, { recursive: true });
    inference = await startInferenceUnderTest({ modelPath });
    ({ upstream, opsPort, scores } = inference);
  });

  after(() => inference.stop());

  function featuresMessage(seq: number, features: number[], warmup = false): Buffer {
    const message: FeaturesMessage = { v: SCHEMA_VERSION, kind: 'features', asset: 'p', seq, ts: Date.now(), ingestTs: Date.now(), features, warmup, imputed: [] };
    return encodeMessage(message);
  }

  it('scores each feature vector with per-sensor shares that sum to 1, and passes warm-up unscored', async () => {
    const { features } = featuresOfReadings(simulatedNormalReadings(1500, 77), TEST_FEATURE_SETTINGS);
    await upstream.send(featuresMessage(1, features[0] as number[], true));
    for (let i = 0; i < 20; i += 1) await upstream.send(featuresMessage(2 + i, features[i] as number[]));
    await waitFor('21 scores', () => scores.length >= 21 || undefined, 5000);
    assert.equal(scores[0]?.warmup, true);
    assert.equal(scores[0]?.score, 0);
    for (const score of scores.slice(1)) {
      assert.ok(score.score > 0);
      const total = Object.values(score.contributions).reduce((sum, share) => sum + share, 0);
      assert.ok(Math.abs(total - 1) < 1e-9);
      assert.equal(score.model.name, 'test-pump-ae');
    }
    assert.deepEqual(scores.map((score) => score.seq), Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('rejects and counts malformed frames and a wrong feature count, and keeps scoring', async () => {
    const before = scores.length;
    await upstream.send(Buffer.from('garbage'));
    await upstream.send(Buffer.from(JSON.stringify({ v: 9 })));
    await upstream.send([Buffer.from('a'), Buffer.from('b')]);
    await upstream.send(featuresMessage(100, [1, 2, 3]));
    await upstream.send(featuresMessage(101, new Array(24).fill(0)));
    await upstream.send(featuresMessage(101, new Array(24).fill(0)));
    await waitFor('the valid message after the garbage', () => scores.length > before || undefined, 5000);
    const metrics = await scrape(opsPort);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'not_json' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'schema_version' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'multipart' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'feature_count' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'out_of_order' }), 1);
    assert.equal(scores.at(-1)?.seq, 101);
    assert.equal(metricSum(metrics, 'vigil_model_loads_total', { outcome: 'ok' }), 1);
    assert.ok(metricSum(metrics, 'vigil_inference_latency_seconds_count') >= 21);
  });

  it('refuses to start on a bundle that is not there, saying where it looked', async () => {
    const config = loadInferenceConfig({ metricsPort: await freePort(), modelPath: '/nonexistent/bundle', learn: { enabled: false } });
    await assert.rejects(startInference(config, logger), /cannot load the model bundle at \/nonexistent\/bundle: bundle.json is missing/);
  });
});
