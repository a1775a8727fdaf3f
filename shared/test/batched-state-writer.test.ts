/**
 * The batched state writer, against a real Redis: a change is written within the interval, a
 * write that failed is retried by itself once Redis is back, and an idle writer holds no timer
 * (a service with nothing to write is not woken once a second to find that out).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { waitFor } from '../../test/harness/ports.js';
import { restartRedis, startRedis, type TestServer } from '../../test/harness/servers.js';
import { BatchedStateWriter, createLogger, RateLimitedLog, RedisJsonState } from '../src/runtime.js';

interface Counter {
  count: number;
}
const isCounter = (value: unknown): value is Counter => typeof (value as Counter | undefined)?.count === 'number';

/** The timers this process has pending (Node's own view of what keeps the event loop waking). */
const pendingTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('BatchedStateWriter (real Redis)', { timeout: 60_000 }, () => {
  let redis: TestServer;
  let client: Redis;
  const logger = createLogger('test', 'silent');

  before(async () => {
    redis = await startRedis({ persistence: 'rdb' });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    // Refused connections while Redis is stopped are the point of the second case.
    client.on('error', () => undefined);
    // ioredis's own connect timer is not the writer's.
    await client.ping();
  });

  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('writes a change within the interval, and holds no timer while nothing is dirty', async () => {
    const state = new Map<string, Counter>([['pump', { count: 1 }]]);
    const idle = pendingTimers();
    const writer = new BatchedStateWriter(new RedisJsonState(client, logger, 'test:idle', isCounter, 1000), (asset) => state.get(asset), 150, new RateLimitedLog(logger));
    assert.equal(pendingTimers(), idle, 'a new writer with nothing dirty waits on nothing');
    writer.markDirty('pump');
    writer.markDirty('pump');
    assert.equal(pendingTimers(), idle + 1, 'one write pending, however many changes');
    await waitFor('the write', async () => (await client.get('test:idle:pump')) ?? undefined, 5_000, 20);
    assert.deepEqual(JSON.parse((await client.get('test:idle:pump')) as string), { count: 1 });
    await waitFor('the timer gone', () => pendingTimers() === idle || undefined, 2_000, 10);
    await writer.stop();
  });

  it('retries a write that failed, with no further change, once Redis is back', async () => {
    const state = new Map<string, Counter>([['press', { count: 7 }]]);
    const writer = new BatchedStateWriter(new RedisJsonState(client, logger, 'test:retry', isCounter, 1000), (asset) => state.get(asset), 100, new RateLimitedLog(logger));
    await redis.stop();
    writer.markDirty('press');
    // Long enough for the first write to have failed (ioredis gives up after one retry).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    redis = await restartRedis(redis);
    await waitFor('the retried write', async () => (await client.get('test:retry:press').catch(() => null)) ?? undefined, 15_000, 100);
    assert.deepEqual(JSON.parse((await client.get('test:retry:press')) as string), { count: 7 });
    await writer.stop();
  });
});
