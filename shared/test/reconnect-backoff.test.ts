/**
 * Reconnection with doubling, jittered waits: the arithmetic, then a real MQTT.js client against
 * a port where the broker is not yet, and then is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from 'mqtt';
import { freePort, waitFor } from '../../test/harness/ports.js';
import { startMosquitto } from '../../test/harness/servers.js';
import { Backoff, reconnectWithBackoff } from '../src/index.js';

describe('reconnection backoff', () => {
  it('doubles from the first wait to the last, each drawn from half to all of it, and starts over', () => {
    const low = new Backoff({ firstMs: 1_000, maxMs: 8_000, random: () => 0 });
    const high = new Backoff({ firstMs: 1_000, maxMs: 8_000, random: () => 1 });
    assert.deepEqual(Array.from({ length: 6 }, () => low.next()), [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
    assert.deepEqual(Array.from({ length: 6 }, () => high.next()), [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    high.reset();
    assert.equal(high.next(), 1_000);
    const spread = new Set(Array.from({ length: 50 }, () => new Backoff({ firstMs: 1_000, maxMs: 8_000 }).next()));
    assert.ok(spread.size > 10, 'devices that lost the broker together do not come back together');
  });

  it('takes over a real MQTT.js client: growing waits while the broker is away, connected when it comes, reset after', async () => {
    const port = await freePort();
    const client = connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1_000 });
    client.on('error', () => undefined);
    const waits: number[] = [];
    reconnectWithBackoff(client, { firstMs: 100, maxMs: 800 }, (ms) => waits.push(ms));
    let broker;
    try {
      await waitFor('five attempts', () => waits.length >= 5 || undefined, 10_000, 20);
      assert.ok(waits[0] !== undefined && waits[0] >= 50 && waits[0] <= 100);
      assert.ok(waits.slice(3).every((ms) => ms >= 400 && ms <= 800), `waits grew to the cap: ${waits.join(', ')}`);
      broker = await startMosquitto({ port });
      await waitFor('connected', () => client.connected || undefined, 5_000, 20);
      const before = waits.length;
      await broker.stop();
      await waitFor('a wait after the loss', () => waits.length > before || undefined, 5_000, 20);
      assert.ok((waits[before] ?? 0) <= 100, `reset after connecting: ${waits[before]}`);
    } finally {
      await client.endAsync(true);
      await broker?.stop();
    }
    const after = waits.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(waits.length, after, 'no attempt after the client was ended');
  });
});
