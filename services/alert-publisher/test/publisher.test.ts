/**
 * The alert-publisher as a process against a real mosquitto: what a subscriber sees, what the
 * broker keeps retained, and what happens when the broker or the publisher goes away.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { Push } from 'zeromq';
import { encodeMessage, SCHEMA_VERSION, type AssetState } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { restartMosquitto, startMosquitto, type TestServer } from '../../../test/harness/servers.js';

const DEVICE = 'edge-7';
const T0 = Date.UTC(2026, 5, 1);

describe('alert-publisher (process, real mosquitto)', { timeout: 120_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  let publisher: ManagedProcess;
  let upstream: Push;
  let env: Record<string, string>;
  let metricsPort: number;
  let seq = 0;

  const decision = (asset: string, state: AssetState, changed: boolean) => {
    seq += 1;
    return encodeMessage({
      v: SCHEMA_VERSION,
      kind: 'decision',
      asset,
      seq,
      ts: T0 + seq * 100,
      ingestTs: Date.now(),
      state,
      changed,
      since: T0,
      score: 5,
      threshold: { high: 1, low: 0.5 },
      contributions: { vibration1: 0.8, current: 0.2 },
      model: { name: 'm', version: '1' },
    });
  };

  before(async () => {
    broker = await startMosquitto({ persistent: true });
    listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`], 'vigil-test-operator');
    const inputPort = await freePort();
    metricsPort = await freePort();
    env = {
      VIGIL_DEVICE_ID: DEVICE,
      VIGIL_MQTT_URL: broker.url,
      VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${inputPort}`,
      VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(metricsPort),
      VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
      VIGIL_ALERT_PUBLISHER_COOLDOWN_S: '60',
      VIGIL_ALERT_PUBLISHER_RETRY_MS: '300',
    };
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    upstream = new Push({ linger: 2000 });
    upstream.connect(env.VIGIL_ALERT_PUBLISHER_INPUT as string);
  });

  after(async () => {
    upstream.close();
    await publisher.stop();
    await listener.close();
    await broker.stop();
  });

  it('publishes one QoS 1 alert per anomaly, a retained state, and a retained online status', async () => {
    await upstream.send(decision('pump-1', 'normal', true));
    await upstream.send(decision('pump-1', 'anomalous', true));
    for (let i = 0; i < 50; i += 1) await upstream.send(decision('pump-1', 'anomalous', false));
    await waitFor('the alert', () => listener.on('/pump-1/alert').length > 0 || undefined, 10_000);
    const alert = JSON.parse(listener.on('/pump-1/alert')[0]?.payload ?? '{}');
    assert.equal(alert.id, `${DEVICE}:pump-1:2`);
    assert.equal(alert.severity, 'critical');
    assert.deepEqual(alert.contributors[0], { sensor: 'vibration1', share: 0.8 });
    const late = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
    await waitFor('retained messages', () => (late.on('/status').length > 0 && late.on('/pump-1/state').length > 0) || undefined, 5_000);
    assert.equal(late.on('/status')[0]?.payload, 'online');
    assert.equal(JSON.parse(late.on('/pump-1/state')[0]?.payload ?? '{}').state, 'anomalous');
    await late.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(listener.on('/pump-1/alert').length, 1, 'fifty anomalous samples, one alert');
  });

  it('ends the episode with its summary on the episode topic when the asset is normal again', async () => {
    await upstream.send(decision('pump-1', 'normal', true));
    await waitFor('the episode cleared', () => listener.on('/pump-1/episode').length > 0 || undefined, 10_000);
    const cleared = JSON.parse(listener.on('/pump-1/episode')[0]?.payload ?? '{}');
    assert.equal(cleared.event, 'cleared');
    assert.equal(cleared.episode, `${DEVICE}:pump-1:2`);
    assert.equal(cleared.id, `${DEVICE}:pump-1:2:cleared:1`);
    assert.ok(cleared.durationS > 0);
    assert.equal(cleared.reentries, 0);
    assert.equal(metricSum(await scrape(metricsPort), 'vigil_alerts_published_total', { asset: 'pump-1' }), 1, 'a clear is not an alert');
  });

  it('alerts an anomaly whose one marked change was lost on the way, from the decisions after it', async () => {
    await upstream.send(decision('lost-edge-1', 'normal', true));
    seq += 1; // the decision that went anomalous (changed: true): lost, as on a link cut with it in flight
    for (let i = 0; i < 5; i += 1) await upstream.send(decision('lost-edge-1', 'anomalous', false));
    await waitFor('the alert', () => listener.on('/lost-edge-1/alert').length > 0 || undefined, 10_000);
    assert.equal(JSON.parse(listener.on('/lost-edge-1/alert')[0]?.payload ?? '{}').id, `${DEVICE}:lost-edge-1:${seq - 4}`, 'raised by the first decision that arrived');
    await waitFor('the retained state', () => listener.on('/lost-edge-1/state').some((message) => JSON.parse(message.payload).state === 'anomalous') || undefined, 5_000);
    const samples = await scrape(metricsPort);
    assert.equal(metricSum(samples, 'vigil_alert_missed_changes_total', { asset: 'lost-edge-1' }), 1, 'and said how it was found');
    assert.equal(listener.on('/lost-edge-1/alert').length, 1, 'one alert, not one a decision');
  });

  it('answers operator commands: acknowledges an episode, mutes an asset, refuses what it cannot do, and keeps an audit log', async () => {
    const operator = await connectAsync(broker.url, { clientId: 'vigil-test-operator-console' });
    const command = (asset: string, body: unknown) =>
      operator.publishAsync(`vigil/${DEVICE}/${asset}/command`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
    const resultOf = async (asset: string, id: string) =>
      JSON.parse(
        (await waitFor(`the result of ${id}`, () => listener.on(`/${asset}/command/result`).find((m) => JSON.parse(m.payload).id === id), 10_000)).payload,
      ) as { status: string; reason?: string };
    try {
      await command('pump-1', { id: 'c1', command: 'ack', episode: `${DEVICE}:pump-1:2`, by: 'shift lead' });
      assert.equal((await resultOf('pump-1', 'c1')).status, 'accepted');
      const ack = await waitFor('the acknowledgement', () => listener.on('/pump-1/episode').find((m) => JSON.parse(m.payload).event === 'acknowledged'), 10_000);
      assert.equal(JSON.parse(ack.payload).by, 'shift lead');
      await command('pump-1', { id: 'c2', command: 'ack', episode: 'no-such-episode' });
      assert.match((await resultOf('pump-1', 'c2')).reason ?? '', /no such episode/);
      await command('pump-1', '{"id":"c3","command":');
      await waitFor('a refusal of bad JSON', () => listener.on('/pump-1/command/result').find((m) => JSON.parse(m.payload).reason === 'not JSON'), 10_000);
      await command('pump-1', { id: 'c4', command: 'reboot' });
      assert.match((await resultOf('pump-1', 'c4')).reason ?? '', /unknown command/);
      // A model command is the inference service's to answer, not the publisher's.
      await command('pump-1', { id: 'c9', command: 'rollback' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(listener.on('/pump-1/command/result').filter((m) => JSON.parse(m.payload).id === 'c9').length, 0);
      await command('pump-1', { id: 'c5', command: 'mute', until: Date.now() + 30 * 86_400_000 });
      assert.match((await resultOf('pump-1', 'c5')).reason ?? '', /7 days/);

      await command('pump-8', { id: 'c6', command: 'mute', until: new Date(Date.now() + 3_600_000).toISOString(), reason: 'maintenance' });
      assert.equal((await resultOf('pump-8', 'c6')).status, 'accepted');
      await upstream.send(decision('pump-8', 'normal', true));
      await upstream.send(decision('pump-8', 'anomalous', true));
      await waitFor('the muted alert counted', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_muted_total', { asset: 'pump-8' }) === 1 || undefined, 10_000);
      assert.equal(listener.on('/pump-8/alert').length, 0, 'nothing published while muted');
      await command('pump-8', { id: 'c7', command: 'unmute' });
      assert.equal((await resultOf('pump-8', 'c7')).status, 'accepted');
      await command('pump-8', { id: 'c8', command: 'unmute' });
      assert.equal((await resultOf('pump-8', 'c8')).reason, 'not muted');

      // The device's own topic: a mute for every asset, answered there; an ack names one asset's episode.
      const deviceCommand = (body: unknown) => operator.publishAsync(`vigil/${DEVICE}/command`, JSON.stringify(body), { qos: 1 });
      const deviceResult = async (id: string) =>
        JSON.parse((await waitFor(`the result of ${id}`, () => listener.on(`vigil/${DEVICE}/command/result`).find((m) => JSON.parse(m.payload).id === id), 10_000)).payload) as {
          status: string;
          asset: string;
          reason?: string;
        };
      await deviceCommand({ id: 'd1', command: 'mute', until: Date.now() + 3_600_000, reason: 'plant shutdown' });
      assert.deepEqual(await deviceResult('d1').then(({ status, asset }) => ({ status, asset })), { status: 'accepted', asset: '*' });
      for (const asset of ['pump-6', 'pump-7']) {
        await upstream.send(decision(asset, 'normal', true));
        await upstream.send(decision(asset, 'anomalous', true));
      }
      await waitFor('both muted alerts counted', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_muted_total', { asset: 'pump-7' }) === 1 || undefined, 10_000);
      assert.equal(metricSum(await scrape(metricsPort), 'vigil_alerts_muted_total', { asset: 'pump-6' }), 1);
      assert.equal(listener.on('/pump-6/alert').length + listener.on('/pump-7/alert').length, 0, 'nothing published while the device is muted');
      await deviceCommand({ id: 'd2', command: 'ack', episode: `${DEVICE}:pump-1:2` });
      assert.match((await deviceResult('d2')).reason ?? '', /one episode of one asset/);
      await deviceCommand({ id: 'd3', command: 'unmute' });
      assert.equal((await deviceResult('d3')).status, 'accepted');
      await upstream.send(decision('pump-9', 'normal', true));
      await upstream.send(decision('pump-9', 'anomalous', true));
      await waitFor('an alert again once unmuted', () => listener.on('/pump-9/alert').length > 0 || undefined, 10_000);

      const audit = readFileSync(join(dirname(env.VIGIL_ALERT_PUBLISHER_OUTBOX_PATH as string), 'commands.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id?: string; muted?: unknown });
      for (const id of ['c1', 'c2', 'c4', 'c5', 'c6', 'c7', 'c8']) assert.ok(audit.some((entry) => entry.id === id), `${id} in the audit log`);
      assert.ok(audit.some((entry) => entry.muted !== undefined), 'the muted alert is recorded');
      const counted = await scrape(metricsPort);
      assert.equal(metricSum(counted, 'vigil_commands_total', { outcome: 'accepted' }), 5);
      assert.ok(metricSum(counted, 'vigil_commands_total', { outcome: 'refused' }) >= 5);
    } finally {
      await operator.endAsync();
    }
  });

  it('keeps a mute across a restart of the publisher, and an unmute too', async () => {
    const operator = await connectAsync(broker.url, { clientId: 'vigil-test-operator-restart' });
    const command = async (asset: string, body: { id: string; command: string; until?: number }) => {
      await operator.publishAsync(`vigil/${DEVICE}/${asset}/command`, JSON.stringify(body), { qos: 1 });
      await waitFor(`the result of ${body.id}`, () => listener.on(`/${asset}/command/result`).find((m) => JSON.parse(m.payload).id === body.id), 10_000);
    };
    try {
      await command('muted-1', { id: 'm1', command: 'mute', until: Date.now() + 3_600_000 });
      await command('muted-2', { id: 'm2', command: 'mute', until: Date.now() + 3_600_000 });
      await command('muted-2', { id: 'm3', command: 'unmute' });
      await publisher.stop();
      publisher = await startHealthy('alert-publisher', env, metricsPort);
      for (const asset of ['muted-1', 'muted-2']) {
        await upstream.send(decision(asset, 'normal', true));
        await upstream.send(decision(asset, 'anomalous', true));
      }
      await waitFor('the unmuted asset alerted', () => listener.on('/muted-2/alert').length > 0 || undefined, 10_000);
      await waitFor('the muted alert counted', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_muted_total', { asset: 'muted-1' }) === 1 || undefined, 10_000);
      assert.equal(listener.on('/muted-1/alert').length, 0, 'still muted after the restart');
    } finally {
      await operator.endAsync();
    }
  });

  it('keeps alerts raised while the broker is down, and delivers them when it returns', async () => {
    await broker.stop();
    await waitFor('mqtt down', async () => metricSum(await scrape(metricsPort), 'vigil_connection_up', { peer: 'mqtt' }) === 0 || undefined);
    for (const asset of ['pump-2', 'pump-3', 'pump-4']) {
      await upstream.send(decision(asset, 'normal', true));
      await upstream.send(decision(asset, 'anomalous', true));
    }
    await waitFor('three pending alerts', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 3 || undefined);
    broker = await restartMosquitto(broker);
    await waitFor('every alert delivered', () => ['pump-2', 'pump-3', 'pump-4'].every((asset) => listener.on(`/${asset}/alert`).length > 0) || undefined, 20_000);
    await waitFor('outbox empty', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 0 || undefined);
  });

  it('delivers after a kill -9 what was in the outbox, and the broker says offline meanwhile', async () => {
    await broker.stop();
    await upstream.send(decision('pump-5', 'normal', true));
    await upstream.send(decision('pump-5', 'anomalous', true));
    await waitFor('pending alert', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 1 || undefined);
    await publisher.kill9();
    broker = await restartMosquitto(broker);
    // Our guarantee ends at the broker's PUBACK; that the operator's subscriber, offline while the
    // broker restarted, gets it too is the broker's session handling. Wait for it to be back.
    await waitFor('the subscriber back', () => listener.client.connected || undefined, 10_000);
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    await waitFor('the alert from before the kill', () => listener.on('/pump-5/alert').length > 0 || undefined, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${publisher.text()}`);
    });
    // A publisher killed while connected leaves its last will: retained offline.
    const before = listener.messages.length;
    await publisher.kill9();
    await waitFor('last will', () => listener.messages.slice(before).some((m) => m.topic.endsWith('/status') && m.payload === 'offline') || undefined, 90_000);
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    await waitFor('online again', () => listener.messages.slice(before).some((m) => m.topic.endsWith('/status') && m.payload === 'online') || undefined, 10_000);
  });

  it('loses none of 300 pending alerts to repeated kill -9 while it flushes them, and its duplicates are counted', async () => {
    const assets = Array.from({ length: 300 }, (_, i) => `flush-${i}`);
    await broker.stop();
    for (const asset of assets) {
      await upstream.send(decision(asset, 'normal', true));
      await upstream.send(decision(asset, 'anomalous', true));
    }
    await waitFor('300 alerts in the outbox', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') >= 300 || undefined, 20_000);
    const before = listener.messages.length;
    const alertIds = () =>
      listener.messages
        .slice(before)
        .filter((message) => message.topic.includes('/flush-') && message.topic.endsWith('/alert'))
        .map((message) => (JSON.parse(message.payload) as { id: string }).id);
    broker = await restartMosquitto(broker);
    await waitFor('the subscriber back', () => listener.client.connected || undefined, 10_000);
    // Kill the publisher as soon as each incarnation has delivered something new: mid-flush, with
    // alerts published but their PUBACKs not yet recorded. Those are the duplicates at-least-once
    // allows; the outbox must make sure none is missing.
    let kills = 0;
    const nextDelivery = () => new Promise<void>((resolve) => listener.client.once('message', () => resolve()));
    while (kills < 5 && new Set(alertIds()).size < assets.length) {
      await nextDelivery();
      if (new Set(alertIds()).size >= assets.length) break;
      await publisher.kill9();
      kills += 1;
      publisher = await startHealthy('alert-publisher', env, metricsPort);
    }
    await waitFor('every alert delivered', () => new Set(alertIds()).size >= assets.length || undefined, 30_000);
    await waitFor('outbox empty', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 0 || undefined, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = alertIds();
    const unique = new Set(received);
    const duplicates = received.length - unique.size;
    console.log(
      `300 pending alerts flushed through ${kills} kill -9s: ${unique.size} delivered, ${duplicates} duplicates ` +
        `(${((100 * duplicates) / unique.size).toFixed(1)} %; each carries its id, so a subscriber drops them)`,
    );
    assert.ok(kills >= 1, 'the publisher was killed while it flushed');
    // A crash repeats at most the window of unacknowledged alerts (VIGIL_ALERT_PUBLISHER_MAX_IN_FLIGHT, 10).
    assert.ok(duplicates <= kills * 10, `${duplicates} duplicates from ${kills} crashes: more than the in-flight window`);
    assert.equal(unique.size, assets.length, 'one alert per asset, no more ids than alerts');
    assert.deepEqual(new Set([...unique].map((id) => id.split(':')[1])), new Set(assets), 'every asset\'s alert delivered');
  });
});
