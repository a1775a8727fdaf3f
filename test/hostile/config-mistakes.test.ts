/**
 * A user's first mistakes in the settings, made on the real service processes: a device id the
 * broker would refuse, URLs with passwords that are wrong in some way. Each gives one clear line
 * and an exit, or runs on; no output ever holds the password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, redactSecrets } from '@vigil/shared/runtime';
import { freePort } from '../harness/ports.js';
import { startService } from '../harness/processes.js';

const PASSWORD = 'pa55-Wr0ng-but-secret';

async function runFor(name: Parameters<typeof startService>[0], env: Record<string, string>, ms: number): Promise<{ code: number | null; text: string }> {
  const service = startService(name, { VIGIL_LOG_LEVEL: 'info', ...env });
  const exited = await Promise.race([service.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  const result = exited ?? (await service.stop());
  return { code: result.code, text: service.text() };
}

describe('config mistakes on the real processes', { timeout: 60_000 }, () => {
  it('refuses a device id the broker would refuse, naming the setting and the reason', async () => {
    const { code, text } = await runFor('alert-publisher', { VIGIL_DEVICE_ID: 'line/1#', VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(await freePort()) }, 10_000);
    assert.equal(code, 1);
    assert.match(text, /deviceId: must be 1-64 characters.*MQTT topic level/);
    assert.ok(!text.includes('    at '), 'no stack trace');
  });

  it('never prints a password: a Redis URL with a bad port, an MQTT URL to nowhere', async () => {
    const badPort = await runFor('preprocessor', { VIGIL_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:63a79`, VIGIL_PREPROCESSOR_METRICS_PORT: String(await freePort()) }, 10_000);
    assert.equal(badPort.code, 1);
    assert.match(badPort.text, /redisUrl: must be a URL/);
    const unreachable = await runFor(
      'alert-publisher',
      {
        VIGIL_MQTT_URL: `mqtt://plant:${PASSWORD}@127.0.0.1:${await freePort()}`,
        VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(await freePort()),
        VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
        VIGIL_LOG_LEVEL: 'debug',
      },
      4_000,
    );
    assert.match(unreachable.text, /mqtt/i, 'it said something about the broker');
    for (const text of [badPort.text, unreachable.text]) assert.ok(!text.includes(PASSWORD), `a password in:\n${text}`);
  });

  it('refuses a mistyped assets file on every service that reads it, in one line naming the asset and the key', async () => {
    const assets = JSON.stringify({ 'pump-1': { channels: ['pressure'] }, 'fan-2': { chanels: ['current'] } });
    for (const name of ['sensor-reader', 'preprocessor', 'inference'] as const) {
      const prefix = `VIGIL_${name.toUpperCase().replace('-', '_')}`;
      const { code, text } = await runFor(name, { VIGIL_ASSETS: assets, [`${prefix}_METRICS_PORT`]: String(await freePort()) }, 10_000);
      assert.equal(code, 1, `${name} exit code`);
      assert.match(text, /VIGIL_ASSETS: asset \\?"fan-2\\?": unknown key \\?"chanels\\?" \(known: channels/, name);
      assert.ok(!text.includes('    at '), `${name}: no stack trace`);
    }
    // One fleet bundle for every asset cannot go with a model per asset.
    const { code, text } = await runFor(
      'inference',
      { VIGIL_ASSETS: '{"pump-1": {"channels": ["pressure"]}}', VIGIL_MODEL_PUBLIC_KEY: 'MCowBQYDK2VwAyEABqwYR5FXkufD+ZgyrtWJ0Y3WbQgZi0t5D8XK4qfrcAs=', VIGIL_MQTT_URL: 'mqtt://127.0.0.1:1', VIGIL_MODEL_FLEET_TOPIC: 'vigil/fleet/pumps/model', VIGIL_INFERENCE_METRICS_PORT: String(await freePort()) },
      10_000,
    );
    assert.equal(code, 1);
    assert.match(text, /fleet delivery .* is not taken with an assets file/);
  });

  it('redacts a password inside a URL wherever it is in a log line: a field, an error, the message', () => {
    assert.equal(redactSecrets('mqtt://plant:secret@broker:1883 and redis://:pw@r:6379/0'), 'mqtt://plant:[redacted]@broker:1883 and redis://:[redacted]@r:6379/0');
    assert.equal(redactSecrets('http://broker:1883/path'), 'http://broker:1883/path', 'a port is not a password');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('test', 'info', sink);
    logger.warn({ err: new Error(`connect to mqtts://u:${PASSWORD}@h failed`), peer: { endpoint: `redis://:${PASSWORD}@r` } }, `giving up on ws://u:${PASSWORD}@h/mqtt`);
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]?.includes(PASSWORD), lines[0]);
    assert.match(lines[0] ?? '', /\[redacted\]/);
  });
});
