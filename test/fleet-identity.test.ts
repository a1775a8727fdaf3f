/**
 * Two devices of one fleet on one broker, with no VIGIL_DEVICE_ID set (as balena runs them): each
 * takes its id from balena's variables, so their client ids, topics and status differ and neither
 * kicks the other off. (With one shared id they would take turns disconnecting each other, each
 * one's last will marking the other offline.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MqttListener } from './harness/mqtt-listener.js';
import { startHealthy } from './harness/pipeline.js';
import { freePort, waitFor } from './harness/ports.js';
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
