import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Push } from 'zeromq';
import { decodeMessage, encodeMessage, PullPipe, SCHEMA_VERSION, type FeaturesMessage, type ReadingValue } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startRedis, type TestServer } from '../../../test/harness/servers.js';
import { loadPreprocessorConfig } from '../src/config.js';
import { startPreprocessor, type Preprocessor } from '../src/preprocessor.js';

const logger = pino({ level: 'silent' });
const CHANNELS = ['pressure', 'flow'];

describe('preprocessor (in-process, real Redis and ZeroMQ)', () => {
  let redis: TestServer;
  let downstream: PullPipe;
  let outputEndpoint: string;
  const features: FeaturesMessage[] = [];

  before(async () => {
    redis = await startRedis();
    outputEndpoint = `tcp://127.0.0.1:${await freePort()}`;
    downstream = await PullPipe.bind({ endpoint: outputEndpoint, highWaterMark: 10_000 });
    void (async () => {
      for await (const [frame] of downstream.messages()) features.push(decodeMessage(frame as Buffer, 'features'));
    })();
  });

  after(async () => {
    downstream.close();
    await redis.stop();
  });

  async function start(): Promise<{ service: Preprocessor; upstream: Push; opsPort: number }> {
    const inputPort = await freePort();
    const opsPort = await freePort();
    const service = await startPreprocessor(
      loadPreprocessorConfig({
        redisUrl: redis.url,
        metricsPort: opsPort,
        metricsHost: '127.0.0.1',
        input: { endpoint: `tcp://127.0.0.1:${inputPort}` },
        output: { endpoint: outputEndpoint },
        channels: CHANNELS,
        features: ['mean', 'std'],
        windowSize: 3,
        scalerWarmup: 20,
        limits: ['pressure:0:10'],
        scalerFlushMs: 50,
      }),
      logger,
    );
    const upstream = new Push({ linger: 1000 });
    upstream.connect(`tcp://127.0.0.1:${inputPort}`);
    return { service, upstream, opsPort };
  }

  const reading = (seq: number, channels: Record<string, ReadingValue>) =>
    encodeMessage({ v: SCHEMA_VERSION, kind: 'reading', asset: 'pump-7', seq, ts: 1000 * seq, ingestTs: Date.now(), channels });

  it('turns readings into window features, imputing gaps and rejecting bad input by reason', async () => {
    const { service, upstream, opsPort } = await start();
    for (let seq = 1; seq <= 30; seq += 1) await upstream.send(reading(seq, { pressure: 1 + (seq % 5) * 0.1, flow: 30 + (seq % 3) }));
    await upstream.send(reading(31, { pressure: 1.2 }));
    await upstream.send(reading(32, { pressure: 'NaN', flow: 31 }));
    await upstream.send(reading(33, { pressure: 99, flow: 31 }));
    await upstream.send(reading(34, { pressure: 1, flow: 31, rpm: 1500 }));
    await upstream.send(Buffer.from('{"v":1,"kind":"reading"'));
    await upstream.send(reading(34, { pressure: 1, flow: 31 }));
    await upstream.send(reading(35, { pressure: 1.1, flow: 30 }));
    await waitFor('seq 35', () => features.some((message) => message.seq === 35) || undefined, 5000);
    const metrics = await scrape(opsPort);
    await service.stop();
    upstream.close();

    assert.deepEqual(features.map((message) => message.seq), [...Array.from({ length: 32 }, (_, i) => i + 1), 35]);
    assert.equal(features[0]?.features.length, CHANNELS.length * 2);
    assert.equal(features[19]?.warmup, true, 'scaler still learning');
    assert.equal(features[25]?.warmup, false, 'scaler frozen and window full');
    assert.deepEqual(features[30]?.imputed, ['flow']);
    assert.deepEqual(features[31]?.imputed, ['pressure']);
    const rejected = (reason: string) => metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason });
    assert.equal(rejected('out_of_range'), 1);
    assert.equal(rejected('unknown_channel'), 1);
    assert.equal(rejected('not_json'), 1);
    assert.equal(rejected('out_of_order'), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'imputed', reason: 'missing' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'imputed', reason: 'non_finite' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'ok' }), 33);
  });

  it('keeps scaler statistics in Redis and standardises the same way after a restart', async () => {
    const client = new Redis(redis.url);
    const stored = JSON.parse((await client.get('vigil:scaler:pump-7')) ?? 'null');
    client.disconnect();
    assert.deepEqual(stored.channels, CHANNELS);
    assert.equal(stored.stats[0].count, 20, 'learned from the warm-up readings, then frozen');

    features.length = 0;
    const { service, upstream } = await start();
    for (let seq = 100; seq < 103; seq += 1) await upstream.send(reading(seq, { pressure: 1.1, flow: 31 }));
    await waitFor('three features', () => features.length >= 3 || undefined, 5000);
    await service.stop();
    upstream.close();
    assert.equal(features[2]?.warmup, false, 'no second warm-up after a restart');
  });
});

describe('preprocessor settings', () => {
  it('parses the physical limits at load, a bad entry named in the one start-up error', () => {
    assert.throws(() => loadPreprocessorConfig({ limits: ['pressure:5:1'], windowSize: 0 }), (error: Error & { problems?: string[] }) => {
      assert.match((error.problems ?? []).join('\n'), /windowSize/);
      return true;
    });
    assert.throws(() => loadPreprocessorConfig({ limits: ['pressure:5:1'] }), /limit "pressure:5:1" is not channel:min:max with min < max/);
    assert.deepEqual(loadPreprocessorConfig({ limits: ['pressure:0:16'] }).physicalLimits, { pressure: { min: 0, max: 16 } });
  });
});
