/**
 * The model's life on the device: the inference service in this process with real ZeroMQ, a real
 * mosquitto carrying the operator's commands and the retained model topic, and real bundles.
 * Each bundle it runs is kept; rollback gives back the previous model's very scores; a pinned
 * model refuses newcomers; relearn learns anew while the model in service keeps scoring.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { generateSigningKeys, signBundle, writeBundle } from '@vigil/shared/model';
import { encodeMessage, SCHEMA_VERSION } from '@vigil/shared/runtime';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { DEFAULT_FEATURE_SETTINGS, defaultTestBundle, simulatedNormalReadings } from '../../../test/harness/model-fixture.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { waitFor } from '../../../test/harness/ports.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';
import { featuresOfReadings, trainBundle } from '../../../training/src/bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS } from '../../../training/src/trainer.js';
import type { ModelStatus } from '../src/model-link.js';
import { ModelRegistry } from '../src/model-registry.js';

const DEVICE = 'edge-9';

/** A copy of a fixture bundle under a version of its own, staged beside the model folder. */
async function stagedBundle(from: string, modelPath: string, version: string): Promise<string> {
  const staged = `${modelPath}.${version}`;
  await cp(from, staged, { recursive: true });
  const manifest = JSON.parse(await readFile(join(staged, 'bundle.json'), 'utf8')) as { version: string };
  manifest.version = version;
  await writeFile(join(staged, 'bundle.json'), JSON.stringify(manifest));
  return staged;
}

/** Drops a staged bundle in as a delivery would: the folder replaced by a rename. */
async function deliver(staged: string, modelPath: string): Promise<void> {
  await rename(modelPath, `${modelPath}.before-${Date.now()}`);
  await rename(staged, modelPath);
}

describe('model registry and model commands (in-process inference, real mosquitto)', { timeout: 180_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  let operator: MqttClient;
  let inference: InferenceUnderTest;
  let modelPath: string;
  let features: number[][];
  let seq = 0;

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
    operator = await connectAsync(broker.url, { clientId: 'vigil-test-operator-models' });
    modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    await rename(await stagedBundle(await defaultTestBundle({ seed: 3 }), modelPath, 'A'), modelPath);
    features = featuresOfReadings(simulatedNormalReadings(1_000, 41), DEFAULT_FEATURE_SETTINGS).features.slice(-400);
    inference = await startInferenceUnderTest({ modelPath, modelWatchMs: 200, deviceId: DEVICE, mqtt: { url: broker.url }, learn: { samples: 300 }, shadowS: 0 });
  });

  after(async () => {
    await inference.stop();
    await operator.endAsync();
    await listener.close();
    await broker.stop();
  });

  /** The same feature vectors for a fresh asset: its scores, in order. */
  const scoresOf = async (asset: string, count = 120): Promise<number[]> => {
    const first = seq + 1;
    for (const vector of features.slice(0, count)) {
      seq += 1;
      await inference.upstream.send(encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset, seq, ts: Date.now(), ingestTs: Date.now(), features: vector, warmup: false, imputed: [] }));
    }
    await waitFor(`scores of ${asset}`, () => inference.scores.some((score) => score.seq === seq) || undefined, 10_000);
    return inference.scores.filter((score) => score.seq >= first && score.seq <= seq).map((score) => score.score);
  };
  const status = (asset: string): ModelStatus | undefined => {
    const last = listener.on(`/${asset}/model`).at(-1);
    return last ? (JSON.parse(last.payload) as ModelStatus) : undefined;
  };
  const command = async (body: Record<string, unknown>): Promise<{ status: string; reason?: string }> => {
    await operator.publishAsync(`vigil/${DEVICE}/a-1/command`, JSON.stringify(body), { qos: 1 });
    const answer = await waitFor(`the answer to ${String(body.id)}`, () => listener.on('/a-1/command/result').find((message) => JSON.parse(message.payload).id === body.id), 10_000);
    return JSON.parse(answer.payload) as { status: string; reason?: string };
  };

  it('keeps each bundle it runs, says so on the retained model topic, and rolls back to the previous one with exactly its scores', async () => {
    const first = await scoresOf('a-1');
    await waitFor('the model topic', () => status('a-1')?.active?.version === 'A' || undefined, 10_000);
    await deliver(await stagedBundle(await defaultTestBundle({ seed: 9, samples: 2_000 }), modelPath, 'B'), modelPath);
    await waitFor('B in service', () => status('a-1')?.active?.version === 'B' || undefined, 10_000);
    assert.deepEqual(status('a-1')?.kept.map((entry) => [entry.version, entry.source]), [['A', 'delivered'], ['B', 'delivered']]);
    const second = await scoresOf('a-2');
    assert.notDeepEqual(second, first, 'another model, other scores');

    assert.equal((await command({ id: 'r1', command: 'rollback', by: 'shift lead' })).status, 'accepted');
    await waitFor('A back in service', () => status('a-1')?.active?.version === 'A' || undefined, 10_000);
    assert.deepEqual(await scoresOf('a-3'), first, 'the previous model, the very same scores');
    assert.match((await command({ id: 'r2', command: 'rollback' })).reason ?? '', /no earlier model/);
    const index = JSON.parse(await readFile(join(dirname(modelPath), 'registry', 'index.json'), 'utf8')) as { entries: Array<{ version: string }> };
    assert.deepEqual(index.entries.map((entry) => entry.version), ['A', 'B'], 'on the models volume');
  });

  it('pins a model: a newcomer is kept as a candidate, not put into service, until unpinned; a version can be pinned by name', async () => {
    assert.equal((await command({ id: 'p1', command: 'pin' })).status, 'accepted');
    await waitFor('pinned', () => status('a-1')?.pinned === 'A' || undefined, 10_000);
    const refusedBefore = metricSum(await scrape(inference.opsPort), 'vigil_model_loads_total', { outcome: 'pinned' });
    await deliver(await stagedBundle(await defaultTestBundle({ seed: 11, samples: 2_000 }), modelPath, 'C'), modelPath);
    await waitFor('C refused', async () => metricSum(await scrape(inference.opsPort), 'vigil_model_loads_total', { outcome: 'pinned' }) > refusedBefore || undefined, 10_000);
    await waitFor('C kept as a candidate', () => status('a-1')?.kept.some((entry) => entry.version === 'C') || undefined, 10_000).catch(() => undefined);
    assert.equal(status('a-1')?.active?.version, 'A');
    assert.equal((JSON.parse(await readFile(join(modelPath, 'bundle.json'), 'utf8')) as { version: string }).version, 'A', 'the pinned bundle is back in the model folder, for the next start');
    assert.match((await command({ id: 'p2', command: 'rollback' })).reason ?? '', /pinned/);
    assert.match((await command({ id: 'p3', command: 'relearn' })).reason ?? '', /pinned/);
    assert.match((await command({ id: 'p4', command: 'pin', version: 'Z' })).reason ?? '', /no model Z/);
    assert.equal((await command({ id: 'p5', command: 'pin', version: 'C' })).status, 'accepted');
    await waitFor('C in service, pinned', () => (status('a-1')?.active?.version === 'C' && status('a-1')?.pinned === 'C') || undefined, 10_000);
    assert.equal((await command({ id: 'p6', command: 'unpin' })).status, 'accepted');
    assert.match((await command({ id: 'p7', command: 'unpin' })).reason ?? '', /no model is pinned/);
    const audit = (await readFile(join(dirname(modelPath), 'model-commands.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { id: string; status: string });
    for (const id of ['p1', 'p2', 'p4', 'p5', 'p6', 'p7']) assert.ok(audit.some((entry) => entry.id === id), `${id} in the audit log`);
  });

  it('relearns on command while the model in service keeps scoring, and puts the learned model into service', async () => {
    assert.equal((await command({ id: 'l1', command: 'relearn', by: 'j.doe' })).status, 'accepted');
    await waitFor('collecting', () => status('a-1')?.learn.state === 'collecting' || undefined, 10_000);
    assert.match((await command({ id: 'l2', command: 'relearn' })).reason ?? '', /already collecting/);
    const during = await scoresOf('a-4', 300);
    assert.ok(during.length === 300 && inference.scores.slice(-300).every((score) => !score.warmup && score.model.version === 'C'), 'scored by the model in service while learning');
    await waitFor('the learned model in service', () => (status('a-1')?.active?.source === 'learned' && status('a-1')?.learn.state === 'idle') || undefined, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(status('a-1'))}`);
    });
    assert.equal(status('a-1')?.active?.name, 'learned-detector');
    assert.ok((status('a-1')?.kept.length ?? 0) <= 5);
  });

  it('leaves alarm commands and what is not a command to the alert-publisher, and relearns on a new-normal verdict without answering it', async () => {
    await operator.publishAsync(`vigil/${DEVICE}/a-1/command`, JSON.stringify({ id: 'x1', command: 'mute', until: Date.now() + 60_000 }), { qos: 1 });
    await operator.publishAsync(`vigil/${DEVICE}/a-1/command`, '{"id":', { qos: 1 });
    await operator.publishAsync(`vigil/${DEVICE}/a-1/command`, JSON.stringify({ id: 'x2', command: 'feedback', episode: 'e', verdict: 'new-normal' }), { qos: 1 });
    await waitFor('learning the new normal', () => status('a-1')?.learn.state === 'collecting' || undefined, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(listener.on('/a-1/command/result').filter((message) => ['x1', 'x2'].includes(JSON.parse(message.payload).id)).length, 0);
  });
});

describe('a device that trusts a fleet key (in-process inference, real bundles)', { timeout: 180_000 }, () => {
  it('puts into service only delivered bundles signed by that key, learned ones without, and falls back at start', async () => {
    const fleet = generateSigningKeys();
    const modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    const signed = async (version: string) => {
      const staged = await stagedBundle(await defaultTestBundle({ seed: 3 }), modelPath, version);
      await signBundle(staged, fleet.privateKeyPem);
      return staged;
    };
    await rename(await signed('S1'), modelPath);
    const settings = { modelPath, modelWatchMs: 200, modelPublicKey: fleet.publicKeyBase64, learn: { samples: 300 }, shadowS: 0 };
    let inference = await startInferenceUnderTest(settings);
    const loads = async (outcome: string) => metricSum(await scrape(inference.opsPort), 'vigil_model_loads_total', { outcome });
    try {
      assert.equal(inference.service.bundle?.manifest.version, 'S1');
      await deliver(await stagedBundle(await defaultTestBundle({ seed: 9, samples: 2_000 }), modelPath, 'U1'), modelPath);
      await waitFor('the unsigned bundle refused', async () => (await loads('unsigned')) === 1 || undefined, 10_000);
      const tampered = await signed('T1');
      await writeFile(join(tampered, 'bundle.json'), (await readFile(join(tampered, 'bundle.json'), 'utf8')).replace('"T1"', '"T2"'));
      await deliver(tampered, modelPath);
      await waitFor('the tampered bundle refused', async () => (await loads('unsigned')) === 2 || undefined, 10_000);
      assert.equal(inference.service.bundle?.manifest.version, 'S1', 'the running model stays');
      await deliver(await signed('S2'), modelPath);
      await waitFor('the signed bundle in service', () => inference.service.bundle?.manifest.version === 'S2' || undefined, 10_000);

      // A restart with an unsigned bundle in the folder runs the last model in service instead.
      await deliver(await stagedBundle(await defaultTestBundle({ seed: 9, samples: 2_000 }), modelPath, 'U2'), modelPath);
      await waitFor('refused', async () => (await loads('unsigned')) === 3 || undefined, 10_000);
      await inference.stop();
      inference = await startInferenceUnderTest(settings);
      assert.equal(inference.service.bundle?.manifest.version, 'S2');
      await inference.stop();

      // Learned on the device: no signature needed.
      inference = await startInferenceUnderTest({ ...settings, modelPath: join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current') });
      const vectors = featuresOfReadings(simulatedNormalReadings(1_000, 43), DEFAULT_FEATURE_SETTINGS).features.slice(-300);
      let seq = 0;
      for (const vector of vectors) {
        seq += 1;
        await inference.upstream.send(encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'a', seq, ts: Date.now(), ingestTs: Date.now(), features: vector, warmup: false, imputed: [] }));
      }
      await waitFor('the learned model in service', () => inference.service.bundle?.manifest.name === 'learned-detector' || undefined, 60_000);
      assert.equal(await loads('unsigned'), 0);
      // And after a restart: the registry remembers it was learned here.
      const learnedPath = join(dirname(inference.service.bundle?.dir ?? ''), 'current');
      await inference.stop();
      inference = await startInferenceUnderTest({ ...settings, modelPath: learnedPath });
      assert.equal(inference.service.bundle?.manifest.name, 'learned-detector');
      await inference.stop();

      // A power cut after the learn worker wrote its bundle, before the service loaded it: the
      // registry had noted the version first, so the next start takes it as learned here.
      const cutPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
      await rename(await stagedBundle(await defaultTestBundle({ seed: 3 }), cutPath, 'L-cut'), cutPath);
      await (await new ModelRegistry(cutPath).open()).noteLearning('L-cut');
      inference = await startInferenceUnderTest({ ...settings, modelPath: cutPath });
      assert.equal(inference.service.bundle?.manifest.version, 'L-cut');
      assert.equal(await loads('unsigned'), 0);
    } finally {
      await inference.stop();
    }
  });
});

describe('shadow before promote (in-process inference, real mosquitto, real bundles)', { timeout: 180_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, ['vigil/edge-shadow/#']);
  });
  after(async () => {
    await listener.close();
    await broker.stop();
  });

  it('promotes a newcomer that alarms no more than the model in service, and keeps one that alarms more as a candidate', async () => {
    const modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-models-')), 'current');
    await rename(await stagedBundle(await defaultTestBundle({ seed: 3 }), modelPath, 'A'), modelPath);
    const live = featuresOfReadings(simulatedNormalReadings(3_000, 51), DEFAULT_FEATURE_SETTINGS);
    const inference = await startInferenceUnderTest({ modelPath, modelWatchMs: 200, deviceId: 'edge-shadow', mqtt: { url: broker.url }, shadowS: 3 });
    const status = (): ModelStatus | undefined => {
      const last = listener.on('/pump-1/model').at(-1);
      return last ? (JSON.parse(last.payload) as ModelStatus) : undefined;
    };
    let seq = 0;
    // Live normal data at 10 Hz of sensor time, sent while the shadow runs.
    const feed = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        const at = seq % live.features.length;
        seq += 1;
        await inference.upstream.send(
          encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'pump-1', seq, ts: Date.UTC(2026, 5, 1) + seq * 100, ingestTs: Date.now(), features: live.features[at] as number[], warmup: false, imputed: [] }),
        );
        if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await feed(100);
      // A newcomer learned on the same kind of normal running: no more alarms, promoted.
      await deliver(await stagedBundle(await defaultTestBundle({ seed: 13, samples: 2_000 }), modelPath, 'B'), modelPath);
      await waitFor('B in the shadow', () => status()?.shadow?.version === 'B' || undefined, 10_000);
      assert.equal(inference.service.bundle?.manifest.version, 'A', 'A still in service meanwhile');
      while (status()?.lastShadow?.version !== 'B') await feed(200);
      assert.equal(status()?.lastShadow?.outcome, 'promoted', status()?.lastShadow?.reason);
      assert.equal(inference.service.bundle?.manifest.version, 'B');

      // A newcomer that learned one feature three spreads off what this machine does: it alarms.
      const skewed = live.features.slice(0, 2_000).map((vector) => vector.map((value, index) => (index === 0 ? value + 3 : value)));
      const trained = await trainBundle(skewed, { name: 'skewed', version: 'C', featureSettings: DEFAULT_FEATURE_SETTINGS, train: DEFAULT_TRAIN_OPTIONS, precision: 'fp32', kind: 'auto-detector', timestamps: skewed.map((_, index) => index * 100) });
      const staged = `${modelPath}.C`;
      await writeBundle(staged, trained.manifest, trained.files);
      await deliver(staged, modelPath);
      await waitFor('C in the shadow', () => status()?.shadow?.version === 'C' || undefined, 10_000);
      while (status()?.lastShadow?.version !== 'C') await feed(200);
      assert.equal(status()?.lastShadow?.outcome, 'kept-as-candidate', status()?.lastShadow?.reason);
      assert.match(status()?.lastShadow?.reason ?? '', /kept as a candidate: [1-9]\d* alarm\(s\) where the model in service raised 0/);
      assert.equal(inference.service.bundle?.manifest.version, 'B', 'B stays in service');
      assert.ok(status()?.kept.some((entry) => entry.version === 'C'), 'C kept in the registry');
      await waitFor('B back in the model folder', async () => (JSON.parse(await readFile(join(modelPath, 'bundle.json'), 'utf8')) as { version: string }).version === 'B' || undefined, 5_000);
    } finally {
      await inference.stop();
    }
  });
});
