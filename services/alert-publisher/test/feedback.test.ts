/**
 * Operator feedback on alarm episodes, on the alert-publisher as a process against a real
 * mosquitto: a false-positive changes what the next alarm of that kind does (held back, unless it
 * grows past the one marked), a confirmed one is kept as a label, and both survive a restart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { Push } from 'zeromq';
import type { AssetState } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { decisionFrame, startPublisherUnderTest } from '../../../test/harness/publisher-under-test.js';
import { waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';

const DEVICE = 'edge-fb';
const T0 = Date.UTC(2026, 5, 1);

describe('operator feedback on episodes (process, real mosquitto)', { timeout: 120_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  let operator: MqttClient;
  let publisher: ManagedProcess;
  let upstream: Push;
  let env: Record<string, string>;
  let metricsPort: number;
  let seq = 0;

  const decision = (asset: string, state: AssetState, changed: boolean, score: number, leader = 'vibration1') => {
    seq += 1;
    // Ten minutes apart: each alarm is past the cooldown, a new episode.
    const contributions = leader === 'vibration1' ? { vibration1: 0.8, current: 0.2 } : { vibration1: 0.1, [leader]: 0.9 };
    return decisionFrame({ seq, asset, state, changed, ts: T0 + seq * 600_000, score, contributions });
  };
  /** An episode: normal, anomalous at `score`, normal again. Returns the raise's seq. */
  const episode = async (asset: string, score: number, leader?: string): Promise<number> => {
    await upstream.send(decision(asset, 'normal', true, 0.2, leader));
    await upstream.send(decision(asset, 'anomalous', true, score, leader));
    const raised = seq;
    await upstream.send(decision(asset, 'normal', true, 0.2, leader));
    return raised;
  };
  const command = async (body: Record<string, unknown>) => {
    await operator.publishAsync(`vigil/${DEVICE}/pump-1/command`, JSON.stringify(body), { qos: 1 });
    const answer = await waitFor(`the answer to ${String(body.id)}`, () => listener.on('/pump-1/command/result').find((message) => JSON.parse(message.payload).id === body.id), 10_000);
    return JSON.parse(answer.payload) as { status: string; reason?: string };
  };
  const alerts = () => listener.on('/pump-1/alert').map((message) => JSON.parse(message.payload) as { id: string; score: number; escalated?: boolean });
  const heldBack = async () => metricSum(await scrape(metricsPort), 'vigil_alerts_held_back_total', { asset: 'pump-1' });

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
    operator = await connectAsync(broker.url, { clientId: 'vigil-test-operator-feedback' });
    ({ publisher, upstream, env, metricsPort } = await startPublisherUnderTest(broker.url, DEVICE, { VIGIL_HA_DISCOVERY: 'false' }));
  });

  after(async () => {
    upstream.close();
    await publisher.stop();
    await operator.endAsync();
    await listener.close();
    await broker.stop();
  });

  it('after a false-positive, the same alarm no stronger is held back; one that grows past it, or led by another sensor, is raised', async () => {
    const first = await episode('pump-1', 5);
    await waitFor('the first alert', () => alerts().length === 1 || undefined, 10_000);
    assert.equal((await command({ id: 'f1', command: 'feedback', episode: `${DEVICE}:pump-1:${first}`, verdict: 'false-positive', note: 'valve test', by: 'j.doe' })).status, 'accepted');

    await episode('pump-1', 4);
    await waitFor('held back', async () => (await heldBack()) === 1 || undefined, 10_000);
    assert.equal(alerts().length, 1, 'nothing published for the known false alarm');
    assert.equal(listener.on('/pump-1/episode').filter((message) => JSON.parse(message.payload).event === 'cleared').length, 1, 'nor its end');

    // The same start, then it grows past the marked alarm's peak: raised after all.
    await upstream.send(decision('pump-1', 'normal', true, 0.2));
    await upstream.send(decision('pump-1', 'anomalous', true, 4.5));
    await upstream.send(decision('pump-1', 'anomalous', false, 9));
    await waitFor('the escalated alert', () => alerts().some((alert) => alert.escalated === true) || undefined, 10_000);
    assert.equal(alerts().find((alert) => alert.escalated)?.score, 9);
    await upstream.send(decision('pump-1', 'normal', true, 0.2));

    await episode('pump-1', 3, 'pressure');
    await waitFor('another sensor alarms', () => alerts().length === 3 || undefined, 10_000);
  });

  it('keeps every verdict as a label, refuses what it cannot take, and remembers the false alarm across a restart', async () => {
    const raised = await episode('pump-1', 2, 'pressure');
    await waitFor('the alert', () => alerts().length === 4 || undefined, 10_000);
    assert.equal((await command({ id: 'f2', command: 'feedback', episode: `${DEVICE}:pump-1:${raised}`, verdict: 'confirmed', by: 'j.doe' })).status, 'accepted');
    assert.match((await command({ id: 'f3', command: 'feedback', episode: 'nope', verdict: 'confirmed' })).reason ?? '', /no such episode/);
    assert.match((await command({ id: 'f4', command: 'feedback', episode: `${DEVICE}:pump-1:${raised}`, verdict: 'meh' })).reason ?? '', /verdict/);
    const labels = readFileSync(join(dirname(env.VIGIL_ALERT_PUBLISHER_OUTBOX_PATH as string), 'labels.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { verdict: string; note: string; peakScore: number });
    assert.deepEqual(labels.map((label) => label.verdict), ['false-positive', 'confirmed']);
    assert.equal(labels[0]?.note, 'valve test');
    assert.equal(labels[0]?.peakScore, 5);

    await publisher.stop();
    publisher = await startHealthy('alert-publisher', env, metricsPort);
    upstream.disconnect(upstream.lastEndpoint as string);
    upstream.connect(env.VIGIL_ALERT_PUBLISHER_INPUT as string);
    await episode('pump-1', 4.9);
    await waitFor('held back after the restart', async () => (await heldBack()) === 1 || undefined, 10_000);
    assert.equal(alerts().length, 4);
  });
});
