import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { waitFor } from '../../../test/harness/ports.js';
import { restartMosquitto, startMosquitto, type TestServer } from '../../../test/harness/servers.js';
import { assetOfTopic, MqttSource, parseSensorPayload } from '../src/mqtt-source.js';
import type { RawSample } from '../src/sample-source.js';

/** The device's clock in these tests: 2026-09-21. */
const NOW = 1_790_000_000_000;

describe('MQTT sensor payloads', () => {
  it('reads the channels form and the flat form', () => {
    assert.deepEqual(parseSensorPayload(Buffer.from('{"asset":"p2","ts":1790000000000,"channels":{"a":1,"b":null}}'), 'p1', NOW), {
      asset: 'p2',
      ts: 1_790_000_000_000,
      channels: { a: 1, b: Number.NaN },
    });
    assert.deepEqual(parseSensorPayload(Buffer.from('{"a":1,"b":2}'), 'p1', NOW), { asset: 'p1', ts: NOW, channels: { a: 1, b: 2 } });
  });

  it('reads a time in seconds, milliseconds, microseconds or nanoseconds, and refuses one no clock could give', () => {
    const at = (ts: string) => parseSensorPayload(Buffer.from(`{"ts":${ts},"channels":{"a":1}}`), 'p', NOW);
    for (const ts of ['1790000000', '1790000000000', '1790000000000000', '1790000000000000000']) {
      assert.equal((at(ts) as { ts: number }).ts, 1_790_000_000_000, ts);
    }
    // A gateway's nanoseconds past the date range, before 1990, in the year 9999, a day and more ahead.
    for (const ts of ['-1e15', '0', '1e21', '253402300799000', String(NOW + 2 * 86_400_000)]) {
      assert.match(String(at(ts)), /is not a time between 1990 and a day from now/, ts);
    }
    assert.match(String(at('"yesterday"')), /is not a finite number/);
  });

  it('takes the plausible window from the settings', () => {
    const window = { earliestMs: Date.UTC(2020, 0, 1), maxFutureMs: 60_000 };
    const at = (ts: number) => parseSensorPayload(Buffer.from(`{"ts":${ts},"channels":{"a":1}}`), 'p', NOW, undefined, window);
    assert.match(String(at(Date.UTC(2019, 11, 31))), /between 2020-01-01 and 60 s from now/);
    assert.match(String(at(NOW + 120_000)), /between 2020-01-01 and 60 s from now/);
    assert.equal((at(NOW + 30_000) as { ts: number }).ts, NOW + 30_000);
    assert.equal((at(Date.UTC(2021, 0, 1) * 1e6) as { ts: number }).ts, Date.UTC(2021, 0, 1), 'nanoseconds still read');
  });

  it('says why a payload is refused', () => {
    assert.equal(parseSensorPayload(Buffer.from('hello'), 'p', 0), 'payload is not JSON');
    assert.equal(parseSensorPayload(Buffer.from('[1]'), 'p', 0), 'payload is not a JSON object');
    assert.equal(parseSensorPayload(Buffer.from('{"a":"high"}'), 'p', 0), 'channel a is not a number');
    assert.equal(parseSensorPayload(Buffer.from('{}'), 'p', 0), 'payload has no channels');
    assert.equal(parseSensorPayload(Buffer.alloc(20_000, 32), 'p', 0), 'payload larger than 16 KiB');
  });

  it("takes the asset from a sensors/<user>/<asset> topic and refuses a payload that names another", () => {
    assert.equal(assetOfTopic('sensors/gateway/pump-3'), 'pump-3');
    assert.equal(assetOfTopic('sensors/pump-3'), undefined);
    assert.equal(assetOfTopic('plant/line1/pump-3/data'), undefined);
    const parsed = parseSensorPayload(Buffer.from('{"a":1}'), 'pump-1', NOW, 'pump-3');
    assert.equal((parsed as { asset: string }).asset, 'pump-3');
    assert.equal((parseSensorPayload(Buffer.from('{"asset":"pump-3","channels":{"a":1}}'), 'pump-1', NOW, 'pump-3') as { asset: string }).asset, 'pump-3');
    assert.equal(parseSensorPayload(Buffer.from('{"asset":"pump-1","channels":{"a":1}}'), 'pump-1', NOW, 'pump-3'), 'payload names asset pump-1 on the topic of pump-3');
  });

  it('keeps a channel called __proto__ a channel: an own property, never a prototype', () => {
    const parsed = parseSensorPayload(Buffer.from('{"channels":{"__proto__":1,"a":2}}'), 'p', NOW) as { channels: Record<string, number> };
    assert.deepEqual(Object.keys(parsed.channels), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(parsed.channels), Object.prototype);
  });
});

describe('MQTT source against a real broker', () => {
  let broker: TestServer;
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await broker.stop();
  });

  it('emits valid payloads and counts malformed ones', async () => {
    const source = new MqttSource({ url: broker.url, username: '', password: '', topics: ['plant/#'], asset: 'pump-9', clientId: 'vigil-test-source' });
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await source.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    const publisher = await connectAsync(broker.url);
    // The subscription is made on connect: publish until it is in place.
    await waitFor('the first sample', async () => {
      await publisher.publishAsync('plant/pump-9', JSON.stringify({ pressure: 1.5, flow: 30 }), { qos: 1 });
      return samples.length > 0 || undefined;
    }, 5000, 200);
    await publisher.publishAsync('plant/pump-9', 'not json', { qos: 1 });
    await publisher.publishAsync('plant/pump-9', JSON.stringify({ channels: { pressure: 1.6 } }), { qos: 1 });
    await waitFor('the rest', () => (rejected.length === 1 && samples.some((s) => s.channels.pressure === 1.6)) || undefined, 5000);
    await publisher.endAsync();
    await source.stop();
    assert.equal(samples[0]?.asset, 'pump-9');
    assert.deepEqual(rejected, ['mqtt_payload']);
  });

  it("survives the broker's restart: resumes within 5 s, and a sensor's QoS 1 readings sent meanwhile all arrive", async () => {
    const persistent = await startMosquitto({ persistent: true });
    const source = new MqttSource({ url: persistent.url, username: '', password: '', topics: ['line/#'], asset: 'pump-3', clientId: 'vigil-test-restart' });
    const samples: RawSample[] = [];
    await source.start((sample) => void samples.push(sample), () => undefined);
    const sensor = await connectAsync(persistent.url, { clientId: 'sensor-3', clean: false, reconnectPeriod: 300 });
    sensor.on('error', () => undefined);
    let sent = 0;
    const send = () => {
      sent += 1;
      // Published whether or not the broker is up: mqtt.js keeps QoS 1 messages until they are acknowledged.
      sensor.publish('line/pump-3', JSON.stringify({ counter: sent }), { qos: 1 });
    };
    let broker = persistent;
    try {
      await waitFor('flowing', async () => {
        send();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return samples.length >= 5 || undefined;
      }, 10_000, 0);
      const ticker = setInterval(send, 100);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await broker.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      broker = await restartMosquitto(broker);
      const upAt = Date.now();
      const before = samples.length;
      await waitFor('flowing again', () => samples.length > before || undefined, 10_000);
      assert.ok(Date.now() - upAt < 5_000, `resumed ${((Date.now() - upAt) / 1000).toFixed(1)} s after the broker came back`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      clearInterval(ticker);
      await waitFor('every reading', () => new Set(samples.map((sample) => sample.channels.counter)).size >= sent || undefined, 10_000).catch(() => undefined);
      const counters = new Set(samples.map((sample) => sample.channels.counter));
      const missing = Array.from({ length: sent }, (_, index) => index + 1).filter((counter) => !counters.has(counter));
      // The first few readings were sent before the subscription was in place (not queued for anyone).
      assert.ok(missing.every((counter) => counter <= 5), `readings lost across the restart: ${missing.filter((counter) => counter > 5).join(', ')}`);
    } finally {
      await sensor.endAsync(true);
      await source.stop();
      await broker.stop();
    }
  });
});
