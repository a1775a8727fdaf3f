/**
 * MQTT over TLS with credentials and a client certificate, against a real mosquitto configured
 * for it with certificates the test makes: the bundled broker must not be anonymous-open, and a
 * factory's central broker usually demands all three.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { Push } from 'zeromq';
import { encodeMessage, SCHEMA_VERSION } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';

const PASSWORD = 'pump-room-7-secret';

function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=vigil test CA');
  for (const [name, subject, extension] of [
    ['server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ['client', '/CN=vigil-device', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

describe('alert-publisher over TLS with credentials and a client certificate (real mosquitto)', { timeout: 120_000 }, () => {
  let dir: string;
  let broker: TestServer;
  let publisher: ManagedProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    makeCertificates(dir);
    writeFileSync(join(dir, 'passwords'), '');
    execFileSync('mosquitto_passwd', ['-b', join(dir, 'passwords'), 'vigil', PASSWORD], { stdio: 'pipe' });
    // Started as root, mosquitto drops to its own user: it must be able to read these (test-only) files.
    chmodSync(dir, 0o755);
    for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o644);
    broker = await startMosquitto({
      extraConfig: [
        'allow_anonymous false',
        `password_file ${join(dir, 'passwords')}`,
        `cafile ${join(dir, 'ca.crt')}`,
        `certfile ${join(dir, 'server.crt')}`,
        `keyfile ${join(dir, 'server.key')}`,
        'require_certificate true',
      ],
    });
  });

  after(async () => {
    await publisher?.stop();
    await broker.stop();
  });

  async function startPublisher(password: string): Promise<{ metricsPort: number; input: string }> {
    const metricsPort = await freePort();
    const input = `tcp://127.0.0.1:${await freePort()}`;
    publisher = await startHealthy(
      'alert-publisher',
      {
        VIGIL_DEVICE_ID: 'secure-1',
        VIGIL_LOG_LEVEL: 'info',
        VIGIL_MQTT_URL: `mqtts://localhost:${broker.port}`,
        VIGIL_MQTT_USERNAME: 'vigil',
        VIGIL_MQTT_PASSWORD: password,
        VIGIL_MQTT_CA_FILE: join(dir, 'ca.crt'),
        VIGIL_MQTT_CERT_FILE: join(dir, 'client.crt'),
        VIGIL_MQTT_KEY_FILE: join(dir, 'client.key'),
        VIGIL_ALERT_PUBLISHER_INPUT: input,
        VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(metricsPort),
        VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(dir, `outbox-${metricsPort}.jsonl`),
      },
      metricsPort,
    );
    return { metricsPort, input };
  }

  it('refuses plain connections, and TLS connections without the password', async () => {
    await assert.rejects(connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0, connectTimeout: 3000 }));
    await assert.rejects(
      connectAsync(`mqtts://localhost:${broker.port}`, {
        reconnectPeriod: 0,
        connectTimeout: 3000,
        ca: readFileSync(join(dir, 'ca.crt')),
        cert: readFileSync(join(dir, 'client.crt')),
        key: readFileSync(join(dir, 'client.key')),
      }),
      /Not authorized|Bad username or password/i,
    );
  });

  it('publishes alerts over TLS, and keeps the password out of its logs', async () => {
    const listener = await connectAsync(`mqtts://localhost:${broker.port}`, {
      username: 'vigil',
      password: PASSWORD,
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'client.crt')),
      key: readFileSync(join(dir, 'client.key')),
    });
    const alerts: string[] = [];
    listener.on('message', (_topic, payload) => alerts.push(payload.toString()));
    await listener.subscribeAsync('vigil/secure-1/+/alert', { qos: 1 });
    const { metricsPort, input } = await startPublisher(PASSWORD);
    await waitFor('mqtt up', async () => metricSum(await scrape(metricsPort), 'vigil_connection_up', { peer: 'mqtt' }) === 1 || undefined, 15_000);
    const push = new Push({ linger: 1000 });
    push.connect(input);
    for (const [seq, state, changed] of [[1, 'normal', true], [2, 'anomalous', true]] as const) {
      await push.send(
        encodeMessage({
          v: SCHEMA_VERSION, kind: 'decision', asset: 'pump-9', seq, ts: Date.UTC(2026, 0, 1) + seq, ingestTs: Date.now(), state, changed,
          since: Date.UTC(2026, 0, 1), score: 3, threshold: { high: 1, low: 0.5 }, contributions: { flow: 1 }, model: { name: 'm', version: '1' },
        }),
      );
    }
    await waitFor('the alert over TLS', () => alerts.length > 0 || undefined, 10_000);
    push.close();
    await listener.endAsync();
    assert.equal(JSON.parse(alerts[0] ?? '{}').id, 'secure-1:pump-9:2');
    await publisher?.stop();
    assert.doesNotMatch(publisher?.text() ?? '', new RegExp(PASSWORD));
  });

  it('with a wrong password stays up, reports the broker down, and holds its alerts', async () => {
    const { metricsPort } = await startPublisher('wrong-password');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const metrics = await scrape(metricsPort);
    assert.equal(metricSum(metrics, 'vigil_connection_up', { peer: 'mqtt' }), 0);
    assert.ok(publisher?.running, 'still running');
    assert.doesNotMatch(publisher?.text() ?? '', /wrong-password/);
  });
});
