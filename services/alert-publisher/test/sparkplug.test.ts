/**
 * Sparkplug B, as a SCADA host sees it: a subscriber on a real mosquitto decodes every message
 * (Eclipse Tahu's payload codec), checks the birth/death certificates and their bdSeq, the
 * sequence numbers, and what happens across a broker restart, a host's rebirth request and a
 * kill -9 of the publisher.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { Push } from 'zeromq';
import type { AssetState } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { decisionFrame, startPublisherUnderTest } from '../../../test/harness/publisher-under-test.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { restartMosquitto, startMosquitto, type TestServer } from '../../../test/harness/servers.js';
import { TcpRelay } from '../../../test/harness/tcp-relay.js';

const codec = (createRequire(import.meta.url)('sparkplug-payload') as { get(namespace: string): { decodePayload(bytes: Uint8Array): UPayload; encodePayload(payload: UPayload): Uint8Array } }).get('spBv1.0');
const DEVICE = 'cell-4';
const GROUP = 'plant-a';

/** Long or number, as the codec decodes 64-bit fields. */
const num = (value: unknown): number => (typeof value === 'number' ? value : Number((value as { toString(): string }).toString()));

interface Decoded {
  type: string;
  asset: string | undefined;
  seq: number;
  timestamp: number;
  metrics: UMetric[];
}

describe('alert-publisher Sparkplug B (process, real mosquitto)', { timeout: 240_000 }, () => {
  let broker: TestServer;
  /** The edge node's side of the LAN, cut and mended around the broker's outage. */
  let lan: TcpRelay;
  let host: MqttListener;
  let publisher: ManagedProcess;
  let upstream: Push;
  let env: Record<string, string>;
  let metricsPort: number;
  let seq = 0;

  const decision = (asset: string, state: AssetState, changed: boolean, contributions: Record<string, number> = { vibration1: 0.8, current: 0.2 }) => {
    seq += 1;
    return decisionFrame({ seq, asset, state, changed, ts: Date.now(), score: state === 'anomalous' ? 6 : 0.4, contributions });
  };
  /** What the edge node published (the host's own NCMD is on the same topics). */
  const decoded = (from = 0): Decoded[] =>
    host.messages
      .slice(from)
      .filter((message) => !message.topic.includes('/NCMD/'))
      .map((message) => {
      const [, group, type, node, asset] = message.topic.split('/');
      assert.equal(group, GROUP);
      assert.equal(node, DEVICE);
      const payload = codec.decodePayload(message.raw);
      return { type: type as string, asset, seq: num(payload.seq ?? -1), timestamp: num(payload.timestamp), metrics: payload.metrics ?? [] };
    });
  const metric = (message: Decoded | undefined, name: string): unknown => message?.metrics.find((entry) => entry.name === name)?.value;
  const metricValue = (message: Decoded | undefined, name: string): number => num(metric(message, name));
  /** seq runs 0, 1, 2, ... 255, 0 from each NBIRTH over every message but the NDEATH. */
  const checkSequence = (messages: Decoded[]) => {
    let expected: number | undefined;
    for (const message of messages) {
      if (message.type === 'NDEATH') continue;
      if (message.type === 'NBIRTH') expected = 0;
      assert.equal(message.seq, expected, `${message.type} ${message.asset ?? ''} has seq ${message.seq}, expected ${expected}`);
      expected = ((expected ?? 0) + 1) % 256;
    }
  };

  before(async () => {
    broker = await startMosquitto();
    host = await MqttListener.connect(broker.url, ['spBv1.0/#']);
    lan = await TcpRelay.start(broker.port);
    ({ publisher, upstream, env, metricsPort } = await startPublisherUnderTest(lan.url, DEVICE, {
      VIGIL_SPARKPLUG: 'true',
      VIGIL_SPARKPLUG_GROUP_ID: GROUP,
      VIGIL_HA_DISCOVERY: 'false',
      VIGIL_ALERT_PUBLISHER_SCORE_INTERVAL_S: '1',
      VIGIL_ALERT_PUBLISHER_RETRY_MS: '300',
    }));
  });

  after(async () => {
    upstream.close();
    await publisher.stop();
    await host.close();
    await lan.close();
    await broker.stop();
  });

  it('births the node and each asset, reports state changes and the episode, in sequence', async () => {
    await waitFor('NBIRTH', () => decoded().some((message) => message.type === 'NBIRTH') || undefined, 10_000);
    await upstream.send(decision('pump-1', 'normal', true));
    await upstream.send(decision('pump-1', 'anomalous', true));
    await waitFor('the raised episode', () => decoded().some((message) => metric(message, 'episode/event') === 'raised') || undefined, 10_000);
    const messages = decoded();
    const nbirth = messages.find((message) => message.type === 'NBIRTH');
    assert.equal(metric(nbirth, 'Node Control/Rebirth'), false);
    assert.ok(Number.isInteger(metricValue(nbirth, 'bdSeq')));
    const dbirth = messages.find((message) => message.type === 'DBIRTH' && message.asset === 'pump-1');
    for (const name of ['state', 'alarm', 'score', 'threshold/high', 'threshold/low', 'contributors/vibration1', 'contributors/current', 'episode/event']) {
      assert.ok(dbirth?.metrics.some((entry) => entry.name === name), `DBIRTH declares ${name}`);
    }
    const change = messages.find((message) => message.type === 'DDATA' && metric(message, 'alarm') === true);
    assert.equal(metric(change, 'state'), 'anomalous');
    assert.equal(metricValue(change, 'score'), 6);
    const raised = messages.find((message) => metric(message, 'episode/event') === 'raised');
    assert.equal(metric(raised, 'episode/id'), `${DEVICE}:pump-1:${seq}`);
    checkSequence(messages);
    // A sensor the birth did not declare: the asset is born again with it.
    await upstream.send(decision('pump-1', 'anomalous', false, { vibration1: 0.5, current: 0.2, pressure: 0.3 }));
    await waitFor('a DBIRTH with the new sensor', () => decoded().some((message) => message.type === 'DBIRTH' && metric(message, 'contributors/pressure') !== undefined) || undefined, 10_000);
    checkSequence(decoded());
  });

  it('across a 60 s broker outage: a new bdSeq, births again, and the episode raised meanwhile sent as history', async () => {
    const firstBdSeq = metricValue(decoded().find((message) => message.type === 'NBIRTH'), 'bdSeq');
    lan.cut();
    await broker.stop();
    await upstream.send(decision('pump-2', 'normal', true));
    await upstream.send(decision('pump-2', 'anomalous', true));
    await waitFor('held for Sparkplug', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending', { output: 'sparkplug' }) === 1 || undefined, 10_000);
    const raisedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    const from = host.messages.length;
    broker = await restartMosquitto(broker);
    // Sparkplug's premise: the host is subscribed before the node comes back (the node's births and
    // data are QoS 0, for whoever is subscribed). Left to the two reconnect timers, the node won
    // that race now and then and the host saw nothing.
    await waitFor('the host connected again', () => host.client.connected || undefined, 10_000);
    await host.client.subscribeAsync(['spBv1.0/#'], { qos: 1 });
    lan.mend();
    await waitFor('the episode delivered', () => decoded(from).some((message) => message.asset === 'pump-2' && metric(message, 'episode/event') === 'raised') || undefined, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}; the host saw ${JSON.stringify(decoded(from).map((message) => `${message.type} ${message.asset ?? ''}`))}`);
    });
    const after = decoded(from);
    const nbirth = after.find((message) => message.type === 'NBIRTH');
    assert.ok(nbirth, 'NBIRTH again');
    assert.notEqual(metricValue(nbirth, 'bdSeq'), firstBdSeq, 'a new bdSeq for a new session');
    assert.ok(after.some((message) => message.type === 'DBIRTH' && message.asset === 'pump-1'), 'the assets known before are born again');
    const history = after.find((message) => message.asset === 'pump-2' && metric(message, 'episode/event') === 'raised');
    const event = history?.metrics.find((entry) => entry.name === 'episode/event');
    assert.equal(event?.isHistorical, true, 'flagged historical');
    assert.ok(num(event?.timestamp) <= raisedAt, 'at the time it happened');
    checkSequence(after);
    await waitFor('nothing pending', async () => metricSum(await scrape(metricsPort), 'vigil_alerts_pending') === 0 || undefined, 5_000);
  });

  it("answers a host's rebirth request, and its will is an NDEATH with the session's bdSeq", async () => {
    const from = host.messages.length;
    const scada = await connectAsync(broker.url);
    await scada.publishAsync(`spBv1.0/${GROUP}/NCMD/${DEVICE}`, Buffer.from(codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] })));
    await scada.endAsync();
    await waitFor('a rebirth', () => decoded(from).some((message) => message.type === 'NBIRTH') || undefined, 10_000);
    const session = metricValue(decoded(from).find((message) => message.type === 'NBIRTH'), 'bdSeq');
    await waitFor('DBIRTHs', () => decoded(from).filter((message) => message.type === 'DBIRTH').length >= 2 || undefined, 10_000);
    checkSequence(decoded(from));
    await publisher.kill9();
    await waitFor('NDEATH', () => decoded(from).some((message) => message.type === 'NDEATH') || undefined, 90_000);
    assert.equal(metricValue(decoded(from).find((message) => message.type === 'NDEATH'), 'bdSeq'), session, 'the death matches the birth');
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    await waitFor('a new session', () => decoded(from).some((message) => message.type === 'NBIRTH' && metricValue(message, 'bdSeq') !== session) || undefined, 10_000);
  });

  it('with a primary host: births only once its STATE says online, and when it goes offline dies and waits for it', async () => {
    const from = host.messages.length;
    const inputPort = await freePort();
    const port = await freePort();
    const waiting = await startHealthy(
      'alert-publisher',
      {
        ...env,
        VIGIL_DEVICE_ID: 'cell-5',
        VIGIL_SPARKPLUG_PRIMARY_HOST_ID: 'scada-1',
        VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${inputPort}`,
        VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(port),
        VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
      },
      port,
    );
    const ofCell5 = () => host.messages.slice(from).filter((message) => message.topic.endsWith('/cell-5')).map((message) => ({ type: message.topic.split('/')[2], bdSeq: num(codec.decodePayload(message.raw).metrics?.find((entry) => entry.name === 'bdSeq')?.value) }));
    const scada = await connectAsync(broker.url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.deepEqual(ofCell5(), [], 'no birth while the host has said nothing');
      await scada.publishAsync('spBv1.0/STATE/scada-1', JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
      await waitFor('NBIRTH', () => ofCell5().some((message) => message.type === 'NBIRTH') || undefined, 10_000);
      const first = ofCell5().find((message) => message.type === 'NBIRTH')?.bdSeq;
      await scada.publishAsync('spBv1.0/STATE/scada-1', JSON.stringify({ online: false, timestamp: Date.now() }), { qos: 1, retain: true });
      await waitFor('NDEATH', () => ofCell5().some((message) => message.type === 'NDEATH') || undefined, 10_000);
      assert.equal(ofCell5().find((message) => message.type === 'NDEATH')?.bdSeq, first, 'the death of that session');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(ofCell5().filter((message) => message.type === 'NBIRTH').length, 1, 'no birth while the host is offline');
      await scada.publishAsync('spBv1.0/STATE/scada-1', JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
      await waitFor('a new session', () => ofCell5().filter((message) => message.type === 'NBIRTH').length === 2 || undefined, 10_000);
      assert.notEqual(ofCell5().filter((message) => message.type === 'NBIRTH')[1]?.bdSeq, first, 'with a new bdSeq');
    } finally {
      await scada.publishAsync('spBv1.0/STATE/scada-1', '', { qos: 1, retain: true });
      await scada.endAsync();
      await waiting.stop();
    }
  });
});
