/**
 * Two devices of one fleet on one broker, with no VIGIL_DEVICE_ID set (as balena runs them): each
 * takes its id from balena's variables, so their client ids, topics and status differ and neither
 * kicks the other off. (With one shared id they would take turns disconnecting each other, each
 * one's last will marking the other offline.) Then two whole devices (five services and a Redis
 * each) on one broker: one's fault is its alert alone, and a command reaches only the device named.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MqttListener } from './harness/mqtt-listener.js';
import { startHealthy, startPipeline, type RunningPipeline } from './harness/pipeline.js';
import { freePort, waitFor } from './harness/ports.js';
import { metricSum, scrape } from './harness/metrics.js';
import { connectAsync } from 'mqtt';
import type { ManagedProcess } from './harness/processes.js';
import { startMosquitto, type TestServer } from './harness/servers.js';

const DEVICES: Array<{ env: Record<string, string>; id: string }> = [
  { env: { BALENA_DEVICE_UUID: '4c1f9e2a7b3d4e5f8a9b0c1d2e3f4a5b' }, id: '4c1f9e2' },
  { env: { BALENA_DEVICE_UUID: '9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a', BALENA_DEVICE_NAME_AT_INIT: 'pump house 2' }, id: 'pump-house-2' },
];

describe('two devices on one broker, identified with no settings', { timeout: 60_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  const publishers: ManagedProcess[] = [];

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, ['vigil/+/status']);
    for (const device of DEVICES) {
      const metricsPort = await freePort();
      const env = {
        ...device.env,
        VIGIL_MQTT_URL: broker.url,
        VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${await freePort()}`,
        VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(metricsPort),
        VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
      };
      publishers.push(await startHealthy('alert-publisher', env, metricsPort));
    }
  });

  after(async () => {
    for (const publisher of publishers) await publisher.stop();
    await listener?.close();
    await broker?.stop();
  });

  it('gives each its own id, topics and status, and neither disconnects the other', async () => {
    await waitFor('both online', () => DEVICES.every((device) => listener.on(`vigil/${device.id}/status`).some((m) => m.payload === 'online')) || undefined, 15_000, 100);
    // Long enough for a reconnect loop to show (mqtt.js reconnects within a second or two).
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    for (const device of DEVICES) {
      const statuses = listener.on(`vigil/${device.id}/status`).map((m) => m.payload);
      assert.deepEqual(statuses, ['online'], `${device.id}: ${statuses.join(', ')}`);
    }
    const topics = new Set(listener.messages.map((m) => m.topic));
    assert.deepEqual([...topics].sort(), DEVICES.map((device) => `vigil/${device.id}/status`).sort());
  });
});

describe('two whole devices on one broker', { timeout: 240_000 }, () => {
  const SAMPLES = 5000;
  let broker: TestServer;
  let listener: MqttListener;
  const devices: Array<{ id: string; pipeline: RunningPipeline }> = [];

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, ['vigil/#']);
    for (const [id, faults] of [['line-a', 'bearing-wear@400+60'], ['line-b', '']] as const) {
      const pipeline = await startPipeline({
        deviceId: id,
        broker,
        readerEnv: { VIGIL_SENSOR_READER_SIM_SPEED: '50', VIGIL_SENSOR_READER_SIM_SEED: '99', VIGIL_SENSOR_READER_SIM_FAULTS: faults, VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(SAMPLES) },
      });
      devices.push({ id, pipeline });
    }
  });

  after(async () => {
    for (const { pipeline } of devices) for (const exit of await pipeline.stop()) assert.equal(exit.code, 0, `${exit.name} exit code`);
    await listener?.close();
    await broker?.stop();
  });

  it("keeps each device's status, model topic and alerts its own, and a command reaches only the device it names", async () => {
    for (const { id, pipeline } of devices) {
      await waitFor(
        `${id}: every sample through`,
        async () => metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' }) >= SAMPLES || undefined,
        90_000,
        250,
      );
    }
    await waitFor('line-a alert', () => listener.on('vigil/line-a/pump-1/alert').length > 0 || undefined, 10_000);
    // Both stayed connected all along: one online each, no reconnect loop, no last will.
    for (const { id } of devices) assert.deepEqual(listener.on(`vigil/${id}/status`).map((m) => m.payload), ['online'], id);
    for (const { id } of devices) assert.ok(listener.on(`vigil/${id}/pump-1/model`).length > 0, `${id}'s model topic`);
    assert.equal(listener.on('vigil/line-b/pump-1/alert').length, 0, 'the healthy device did not alarm');
    const alert = JSON.parse(listener.on('vigil/line-a/pump-1/alert')[0]?.payload ?? '{}') as { id: string; device: string };
    assert.equal(alert.device, 'line-a');
    assert.match(alert.id, /^line-a:pump-1:/);
    const operator = await connectAsync(broker.url, { clientId: 'operator' });
    try {
      await operator.publishAsync('vigil/line-b/pump-1/command', JSON.stringify({ id: 'f-1', command: 'pin', by: 'test' }), { qos: 1 });
      await waitFor('the answer', () => listener.on('vigil/line-b/pump-1/command/result').length > 0 || undefined, 10_000);
      await waitFor("line-b's model pinned", () => (JSON.parse(listener.on('vigil/line-b/pump-1/model').at(-1)?.payload ?? '{}') as { pinned?: string }).pinned || undefined, 10_000);
    } finally {
      await operator.endAsync();
    }
    assert.equal(listener.on('vigil/line-a/pump-1/command/result').length, 0);
    assert.equal((JSON.parse(listener.on('vigil/line-a/pump-1/model').at(-1)?.payload ?? '{}') as { pinned?: string | null }).pinned, null, "line-a's model is not pinned");
  });
});
