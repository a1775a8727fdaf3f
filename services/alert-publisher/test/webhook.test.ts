/**
 * The web hook output: the alert-publisher as a process, a real mosquitto, and a real HTTP server
 * that fails the first attempts, then goes away altogether while the publisher is killed.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Push } from 'zeromq';
import type { AssetState } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { decisionFrame, startPublisherUnderTest } from '../../../test/harness/publisher-under-test.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';

const DEVICE = 'hook-1';
const SECRET = 'shared-secret-of-the-receiver';
const T0 = Date.UTC(2026, 5, 1);

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver on a fixed port that answers 503 to the first `failFirst` requests. */
class HookServer {
  readonly received: Received[] = [];
  attempts = 0;
  private server: Server | undefined;

  constructor(
    readonly port: number,
    private failFirst: number,
  ) {}

  start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.attempts += 1;
        if (this.failFirst > 0) {
          this.failFirst -= 1;
          response.writeHead(503).end();
          return;
        }
        this.received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        response.writeHead(204).end();
      });
    });
    return new Promise((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  ids(): string[] {
    return this.received.map((request) => (JSON.parse(request.body) as { id: string }).id);
  }
}

describe('alert-publisher web hook (process, real HTTP server, real mosquitto)', { timeout: 240_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  let hook: HookServer;
  let publisher: ManagedProcess;
  let upstream: Push;
  let env: Record<string, string>;
  let metricsPort: number;
  let seq = 0;

  const decision = (asset: string, state: AssetState, changed: boolean) => {
    seq += 1;
    return decisionFrame({ seq, asset, state, changed, ts: T0 + seq * 100 });
  };

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
    hook = new HookServer(await freePort(), 3);
    await hook.start();
    ({ publisher, upstream, env, metricsPort } = await startPublisherUnderTest(broker.url, DEVICE, {
      VIGIL_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/vigil`,
      VIGIL_WEBHOOK_SECRET: SECRET,
      VIGIL_WEBHOOK_MAX_BACKOFF_S: '1',
      VIGIL_ALERT_PUBLISHER_RETRY_MS: '300',
    }));
  });

  after(async () => {
    upstream.close();
    await publisher.stop();
    await hook.stop();
    await listener.close();
    await broker.stop();
  });

  it('retries a failing hook with backoff, signs every request, and never holds up MQTT', async () => {
    await upstream.send(decision('pump-1', 'normal', true));
    await upstream.send(decision('pump-1', 'anomalous', true));
    await upstream.send(decision('pump-1', 'normal', true));
    const mqttAlert = await waitFor('the MQTT alert', () => listener.on('/pump-1/alert')[0], 10_000);
    await waitFor('both events at the hook', () => hook.received.length >= 2 || undefined, 20_000);
    assert.ok(mqttAlert.at < (hook.received[0]?.at ?? 0), 'MQTT delivered while the hook was failing');
    assert.equal(hook.attempts, 5, 'three 503s, then the two events');
    assert.deepEqual(hook.ids(), [`${DEVICE}:pump-1:2`, `${DEVICE}:pump-1:2:cleared:1`], 'in order');
    for (const request of hook.received) {
      const event = JSON.parse(request.body) as { event?: string; id: string };
      assert.equal(request.headers['x-vigil-event'], event.event ?? 'raised');
      assert.equal(request.headers['x-vigil-delivery'], event.id);
      assert.equal(request.headers['content-type'], 'application/json');
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${String(request.headers['x-vigil-timestamp'])}.${request.body}`).digest('hex')}`;
      const given = String(request.headers['x-vigil-signature']);
      assert.ok(given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected)), 'a valid signature');
    }
    const metrics = await scrape(metricsPort);
    assert.equal(metricSum(metrics, 'vigil_webhook_attempts_total', { outcome: 'failed' }), 3);
    assert.equal(metricSum(metrics, 'vigil_webhook_attempts_total', { outcome: 'delivered' }), 2);
    assert.equal(metricSum(metrics, 'vigil_alerts_pending', { output: 'webhook' }), 0);
  });

  it('loses nothing while the hook is gone for 60 s and the publisher is killed meanwhile, and sends each event once', async () => {
    await hook.stop();
    const goneAt = Date.now();
    const before = hook.received.length;
    const assets = ['pump-2', 'pump-3', 'pump-4'];
    for (const asset of assets) {
      await upstream.send(decision(asset, 'normal', true));
      await upstream.send(decision(asset, 'anomalous', true));
    }
    await waitFor('every MQTT alert', () => assets.every((asset) => listener.on(`/${asset}/alert`).length > 0) || undefined, 10_000);
    await waitFor('three waiting for the hook', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending', { output: 'webhook' }) === 3 || undefined, 10_000);
    assert.equal(metricSum(await scrape(metricsPort), 'vigil_alerts_pending', { output: 'mqtt' }), 0, 'MQTT is not waiting for the hook');
    assert.equal(metricSum(await scrape(metricsPort), 'vigil_connection_up', { peer: 'webhook' }), 0);
    await publisher.kill9();
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, goneAt + 60_000 - Date.now())));
    await hook.start();
    await waitFor('the three events from before the kill', () => hook.received.length - before >= 3 || undefined, 20_000).catch((error: Error) => {
      throw new Error(`${error.message} (attempts ${hook.attempts})\n${publisher.text()}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const ids = hook.ids().slice(before);
    assert.deepEqual(ids, assets.map((asset) => ids.find((id) => id.includes(`:${asset}:`))), 'each once, in order');
    assert.equal(new Set(hook.ids()).size, hook.ids().length, 'no duplicates over the whole test');
    await waitFor('nothing pending', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 0 || undefined, 5_000);
  });
});
