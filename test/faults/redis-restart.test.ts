/**
 * Redis restarted (with the persistence docker-compose.yml uses), and the two stages that keep
 * state in it killed and restarted while it was down, as after a power cut where every
 * container starts at once: the scaler and the thresholds must come back as they were, not from
 * cold start, and normal operation must raise no alarms after.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { SurpriseThresholdState } from '@vigil/shared/detection';
import { metricSum, scrape } from '../harness/metrics.js';
import { startHealthy, startPipeline, type RunningPipeline } from '../harness/pipeline.js';
import { waitFor } from '../harness/ports.js';
import { restartRedis } from '../harness/servers.js';

const ASSET = 'pump-1';
const NORMAL = 1;

describe('Redis restart', { timeout: 180_000 }, () => {
  let pipeline: RunningPipeline;
  const threshold = () => scrape(pipeline.ports.metrics['adaptive-threshold']);
  const readThresholdState = async (): Promise<SurpriseThresholdState> => {
    const client = new Redis(pipeline.redis.url, { lazyConnect: true });
    try {
      await client.connect();
      return JSON.parse((await client.get(`vigil:threshold:${ASSET}`)) ?? 'null') as SurpriseThresholdState;
    } finally {
      client.disconnect();
    }
  };
  const judged = async () => metricSum(await threshold(), 'vigil_messages_total', { outcome: 'ok' });

  before(async () => {
    pipeline = await startPipeline({
      deviceId: 'redis-restart-test',
      redisDir: mkdtempSync(join(tmpdir(), 'vigil-redis-data-')),
      readerEnv: {
        VIGIL_SENSOR_READER_RATE_HZ: '10',
        VIGIL_SENSOR_READER_SIM_SPEED: '20',
        VIGIL_SENSOR_READER_SIM_FAULTS: '',
      },
      // State reaches Redis within 200 ms of a change.
      everyServiceEnv: { VIGIL_PREPROCESSOR_SCALER_FLUSH_MS: '200', VIGIL_ADAPTIVE_THRESHOLD_FLUSH_MS: '200', VIGIL_LOG_LEVEL: 'info' },
    });
    await waitFor('the threshold to learn normal', async () => metricSum(await threshold(), 'vigil_asset_state', { asset: ASSET }) === NORMAL || undefined, 60_000, 100);
    // Some normal operation past warm-up, so the stored marks have moved from their first values.
    const start = await judged();
    await waitFor('normal operation', async () => (await judged()) > start + 2_000 || undefined, 60_000, 100);
  });

  after(async () => {
    await pipeline?.stop();
  });

  it('restores the scaler and thresholds and raises no false alarms after', async () => {
    const stored = await readThresholdState();
    await pipeline.redis.stop();
    // The stateful stages die and come back while Redis is still down.
    for (const name of ['preprocessor', 'adaptive-threshold'] as const) {
      await pipeline.services.get(name)?.kill9();
      pipeline.services.set(name, await startHealthy(name, pipeline.env[name], pipeline.ports.metrics[name]));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    pipeline.redis = await restartRedis(pipeline.redis);

    // Both restarted stages must have handled new readings: the threshold alone can count 200
    // decisions from what inference queued while it was down, before the preprocessor (still in
    // its back-off, up to 5 s between tries) has read its state from the returned Redis.
    const preprocessed = async () => metricSum(await scrape(pipeline.ports.metrics.preprocessor), 'vigil_messages_total', { outcome: 'ok' });
    await waitFor(
      'the restarted preprocessor and threshold to work again',
      async () => ((await preprocessed()) > 200 && (await judged()) > 200) || undefined,
      60_000,
      100,
    );
    assert.equal(metricSum(await threshold(), 'vigil_asset_state', { asset: ASSET }), NORMAL, 'normal, not back to warm-up');
    const preprocessorLog = pipeline.services.get('preprocessor')?.text() ?? '';
    assert.match(preprocessorLog, /redis unreachable; waiting for it/, 'the preprocessor waited for Redis');
    assert.match(preprocessorLog, /"scalerFrozen":true/, 'the preprocessor restored its learned scaler');
    assert.match(pipeline.services.get('adaptive-threshold')?.text() ?? '', /"restored":true/);
    // The default detector's threshold went on from where it was: the same model's calibrated
    // scores, normal since the same sample (a cold start would have begun again at warm-up, with
    // a new since).
    const restored = await readThresholdState();
    assert.equal(restored.mode, 'surprise');
    assert.equal(restored.model, stored.model);
    assert.equal(restored.samplePeriodMs, 100);
    assert.equal(restored.state, 'normal');
    assert.equal(restored.since, stored.since, 'normal since the same sample');

    const start = await judged();
    await waitFor('3,000 more normal samples', async () => (await judged()) > start + 3_000 || undefined, 90_000, 200);
    assert.equal(metricSum(await threshold(), 'vigil_anomalies_total', { asset: ASSET }), 0, 'no false alarms after the restart');
  });
});
