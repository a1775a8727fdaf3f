/**
 * The detector's per-asset memory survives a restart of the inference service, through a real
 * Redis: an asset that settled at a new level is judged from it again at once after the restart,
 * not from home (where it would be a fault as large as the change, and alarm again).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { encodeMessage, SCHEMA_VERSION, type ScoreMessage } from '@vigil/shared/runtime';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { DEFAULT_FEATURE_SETTINGS, defaultTestBundle, simulatedNormalReadings } from '../../../test/harness/model-fixture.js';
import { waitFor } from '../../../test/harness/ports.js';
import { startRedis, type TestServer } from '../../../test/harness/servers.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';
import { DETECTOR_MEMORY_PREFIX } from '../src/detector-memory.js';

describe("the detector's memory across a restart (real Redis, real ZeroMQ)", { timeout: 120_000 }, () => {
  let redis: TestServer;
  let client: Redis;
  let modelPath: string;
  let normal: number[][];
  let seq = 0;

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    modelPath = join(mkdtempSync(join(tmpdir(), 'vigil-memory-')), 'current');
    cpSync(await defaultTestBundle(), modelPath, { recursive: true });
    // Standardised readings as the preprocessor sends them, past the scaler's warm-up.
    normal = featuresOfReadings(simulatedNormalReadings(6000, 77), DEFAULT_FEATURE_SETTINGS).features.slice(-3000);
  });

  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  const start = (redisUrl: string) => startInferenceUnderTest({ modelPath, modelWatchMs: 60_000, shadowS: 0, learn: { enabled: false }, memory: { redisUrl, flushMs: 200 } });

  /** Sends `count` samples of `asset`, the pressure channel (the first) raised by `step` standard units. */
  const send = async (inference: InferenceUnderTest, asset: string, count: number, step: number): Promise<ScoreMessage[]> => {
    const first = seq + 1;
    for (let i = 0; i < count; i += 1) {
      seq += 1;
      const features = [...(normal[seq % normal.length] as number[])];
      features[0] = (features[0] as number) + step;
      await inference.upstream.send(encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset, seq, ts: seq * 100, ingestTs: Date.now(), features, warmup: false, imputed: [] }));
    }
    await waitFor(`score ${seq}`, () => inference.scores.some((score) => score.seq === seq) || undefined, 20_000);
    return inference.scores.filter((score) => score.seq >= first);
  };

  it('resumes an asset at its settled new level after a restart; without the memory the same asset is judged from home', async () => {
    const first = await start(redis.url);
    let changed: ScoreMessage[];
    try {
      await send(first, 'pump', 300, 0);
      // A step held long enough to be a new level (a tenth of the 3,000 learned samples, and steady).
      changed = await send(first, 'pump', 900, 8);
      assert.equal(changed.at(-1)?.calibrated?.changedLevel, true, 'the held step became a new level');
      await waitFor('memory in redis', async () => {
        const stored = await client.get(`${DETECTOR_MEMORY_PREFIX}:pump`);
        return stored !== null && (JSON.parse(stored) as { memory: { changed?: unknown } }).memory.changed !== undefined ? true : undefined;
      }, 10_000);
    } finally {
      await first.stop();
    }
    const stored = JSON.parse((await client.get(`${DETECTOR_MEMORY_PREFIX}:pump`)) as string) as { model: string };
    assert.equal(stored.model, 'test', "the memory names the model it was made with");

    const restarted = await start(redis.url);
    try {
      const [resumed] = await send(restarted, 'pump', 1, 8);
      assert.equal(resumed?.calibrated?.changedLevel, true, 'judged from the new level at once');
      assert.ok((resumed?.score as number) < 3, `ordinary at the new level: ${resumed?.score}`);
    } finally {
      await restarted.stop();
    }

    // The control: a service that keeps no memory starts the asset afresh, judged from home.
    const forgetful = await start('');
    try {
      const [cold] = await send(forgetful, 'pump', 1, 8);
      assert.equal(cold?.calibrated?.changedLevel, undefined);
      assert.ok((cold?.score as number) > 5, `the step is a fault seen from home: ${cold?.score}`);
    } finally {
      await forgetful.stop();
    }
  });

  it('starts afresh from a memory made by another model, or a malformed one, and scores every sample', async () => {
    await client.set(`${DETECTOR_MEMORY_PREFIX}:other-model`, JSON.stringify({ model: 'not-this-one', memory: { seen: 5, course: [0], smooth: [0], home: [0], homeCount: 0 } }));
    await client.set(`${DETECTOR_MEMORY_PREFIX}:garbage`, '{not json');
    const inference = await start(redis.url);
    try {
      for (const asset of ['other-model', 'garbage']) {
        const scores = await send(inference, asset, 50, 0);
        assert.equal(scores.length, 50, `${asset}: every sample scored`);
        assert.ok(scores.every((score) => Number.isFinite(score.score) && score.calibrated?.changedLevel === undefined));
      }
      // Overwritten with this model's memory at the next write.
      await waitFor('memory rewritten', async () => {
        const stored = await client.get(`${DETECTOR_MEMORY_PREFIX}:other-model`);
        return stored !== null && (JSON.parse(stored) as { model: string }).model === 'test' ? true : undefined;
      }, 10_000);
    } finally {
      await inference.stop();
    }
  });
});
