/**
 * One device watching two machines with different channels: a pump (the simulator's eight
 * channels) and a fan (two channels of its own), named in an assets file given to every service.
 * The five services as separate processes, real Redis, mosquitto and ZeroMQ; readings come in over
 * MQTT as from two gateways. Each asset must learn its own model in its own folder, alarm on its
 * own fault only, take model commands for itself only, and a source naming an asset the file does
 * not list is refused.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { SeededRandom } from '@vigil/shared/runtime';
import { PumpSimulator } from '../services/sensor-reader/src/pump-simulator.js';
import { PUMP_CHANNEL_NAMES } from '@vigil/shared/features';
import { metricSum, scrape } from './harness/metrics.js';
import { MqttListener } from './harness/mqtt-listener.js';
import { startPipeline, type RunningPipeline } from './harness/pipeline.js';
import { waitFor } from './harness/ports.js';

const DEVICE = 'two-machines';
const SAMPLE_MS = 100;
const LEARN_SAMPLES = 600;
const ASSETS = {
  'pump-1': { channels: [...PUMP_CHANNEL_NAMES], scalerWarmup: 300 },
  'fan-2': { channels: ['current', 'bearing_temp'], features: ['mean', 'std'], windowSize: 5, scalerWarmup: 300 },
};

interface ModelTopic {
  active: { name: string; version: string; kind: string } | null;
  learn: { state: string };
}

describe('several assets on one device, each with its own channels, model and alarms', { timeout: 240_000 }, () => {
  let pipeline: RunningPipeline;
  let listener: MqttListener;
  let gateway: MqttClient;
  let modelsDir: string;
  const pump = new PumpSimulator({ seed: 11, rateHz: 1000 / SAMPLE_MS });
  const random = new SeededRandom(12);
  let fanCurrent = 8;
  // Sensor time an hour back, so that every sample of the test is in the past.
  let sensorTimeMs = Date.now() - 3_600_000;

  /** One reading of each machine, `count` times: the pump's on its topic, the fan's on its own. */
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) {
      sensorTimeMs += SAMPLE_MS;
      gateway.publish('sensors/gateway/pump-1', JSON.stringify({ ts: sensorTimeMs, channels: pump.next() }), { qos: 0 });
      const fan = { current: fanCurrent + 0.1 * random.gaussian(), bearing_temp: 41 + 0.05 * Math.sin((2 * Math.PI * sensorTimeMs) / 10_000) + 0.05 * random.gaussian() };
      gateway.publish('sensors/gateway/fan-2', JSON.stringify({ ts: sensorTimeMs, channels: fan }), { qos: 0 });
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const modelTopic = (asset: string): ModelTopic | undefined => {
    const last = listener.on(`/${asset}/model`).at(-1);
    return last ? (JSON.parse(last.payload) as ModelTopic) : undefined;
  };
  const alerts = (asset: string) => listener.on(`/${asset}/alert`).length;

  before(async () => {
    modelsDir = mkdtempSync(join(tmpdir(), 'vigil-assets-models-'));
    pipeline = await startPipeline({
      deviceId: DEVICE,
      beforeServices: async ({ broker }) => {
        listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
      },
      everyServiceEnv: {
        VIGIL_ASSETS: JSON.stringify(ASSETS),
        VIGIL_INFERENCE_MODEL_PATH: join(modelsDir, 'current'),
        VIGIL_INFERENCE_LEARN_SAMPLES: String(LEARN_SAMPLES),
      },
      readerEnv: { VIGIL_SENSOR_READER_SOURCE: 'mqtt', VIGIL_SENSOR_READER_ASSET: 'pump-1', VIGIL_SENSOR_READER_MQTT_TOPICS: 'sensors/#' },
    });
    gateway = await connectAsync(pipeline.broker.url, { clientId: 'gateway' });
  });

  after(async () => {
    await gateway?.endAsync(true);
    await listener?.close();
    for (const exit of (await pipeline?.stop()) ?? []) assert.equal(exit.code, 0, `${exit.name} exit code`);
  });

  it('learns a model per asset, each in its own folder, from its own channels', async () => {
    // Both topics are there before the first sample: the file names the assets.
    await waitFor('both model topics', () => (modelTopic('pump-1') && modelTopic('fan-2')) || undefined, 15_000, 100);
    assert.equal(modelTopic('fan-2')?.learn.state, 'collecting');
    for (let round = 0; round < 40 && !(modelTopic('pump-1')?.active && modelTopic('fan-2')?.active); round++) {
      await send(100);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await waitFor('both models in service', () => (modelTopic('pump-1')?.active && modelTopic('fan-2')?.active) || undefined, 60_000, 250);
    for (const asset of Object.keys(ASSETS)) {
      assert.ok(existsSync(join(modelsDir, asset, 'current', 'bundle.json')), `${asset}'s bundle in its own folder`);
      assert.ok(existsSync(join(modelsDir, asset, 'registry', 'index.json')), `${asset}'s registry`);
    }
    assert.ok(!existsSync(join(modelsDir, 'current')), 'no shared model');
    console.log(`# models: pump-1 ${modelTopic('pump-1')?.active?.kind} ${modelTopic('pump-1')?.active?.version}, fan-2 ${modelTopic('fan-2')?.active?.kind} ${modelTopic('fan-2')?.active?.version}`);
    const inference = await scrape(pipeline.ports.metrics.inference);
    assert.equal(metricSum(inference, 'vigil_model_info', { asset: 'pump-1' }), 1);
    assert.equal(metricSum(inference, 'vigil_model_info', { asset: 'fan-2' }), 1);
    assert.equal(metricSum(inference, 'vigil_messages_total', { outcome: 'rejected', reason: 'feature_count' }), 0);
  });

  it('alarms on the asset whose machine went wrong, and only on it', async () => {
    // Normal running after learning: neither alarms.
    await send(600);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = { pump: alerts('pump-1'), fan: alerts('fan-2') };
    assert.deepEqual(before, { pump: 0, fan: 0 }, 'no false alarm on normal running');
    // The fan draws 20 standard deviations more current; the pump runs on as before.
    fanCurrent = 10;
    for (let round = 0; round < 30 && alerts('fan-2') === 0; round++) {
      await send(50);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await waitFor('the fan alert', () => alerts('fan-2') > 0 || undefined, 20_000, 200);
    assert.equal(alerts('pump-1'), 0, 'the pump did not alarm for the fan');
    const alert = JSON.parse(listener.on('/fan-2/alert')[0]?.payload ?? '{}') as { asset: string; contributions?: Record<string, number> };
    assert.equal(alert.asset, 'fan-2');
    // And the pump's own fault is the pump's.
    pump.addFault({ kind: 'cavitation', startS: pump.timeS, durationS: 120 });
    for (let round = 0; round < 40 && alerts('pump-1') === 0; round++) {
      await send(50);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await waitFor('the pump alert', () => alerts('pump-1') > 0 || undefined, 20_000, 200);
  });

  it('takes a model command for the asset it names only, and refuses readings of an asset the file does not name', async () => {
    const pumpVersion = modelTopic('pump-1')?.active?.version;
    const operator = await connectAsync(pipeline.broker.url, { clientId: 'operator' });
    try {
      await operator.publishAsync(`vigil/${DEVICE}/fan-2/command`, JSON.stringify({ id: 'r-1', command: 'relearn', by: 'test' }), { qos: 1 });
      const answer = await waitFor('the relearn answer', () => listener.on('/fan-2/command/result').find((message) => JSON.parse(message.payload).id === 'r-1'), 10_000);
      assert.equal((JSON.parse(answer.payload) as { status: string }).status, 'accepted');
      await waitFor('fan-2 collecting', () => modelTopic('fan-2')?.learn.state === 'collecting' || undefined, 10_000, 100);
      assert.equal(modelTopic('pump-1')?.learn.state, 'idle', 'the pump is not relearning');
      assert.equal(modelTopic('pump-1')?.active?.version, pumpVersion);
      // The device's own topic: every asset relearns (the fan, already learning, goes on).
      await operator.publishAsync(`vigil/${DEVICE}/command`, JSON.stringify({ id: 'r-2', command: 'relearn', by: 'test' }), { qos: 1 });
      const all = await waitFor('the device relearn answer', () => listener.on(`vigil/${DEVICE}/command/result`).find((message) => JSON.parse(message.payload).id === 'r-2'), 10_000);
      assert.deepEqual((({ status, asset }) => ({ status, asset }))(JSON.parse(all.payload) as { status: string; asset: string }), { status: 'accepted', asset: '*' });
      await waitFor('pump-1 collecting', () => modelTopic('pump-1')?.learn.state === 'collecting' || undefined, 10_000, 100);
      assert.equal(modelTopic('pump-1')?.active?.version, pumpVersion, 'the model in service scores while it relearns');
    } finally {
      await operator.endAsync();
    }
    gateway.publish('sensors/gateway/stranger', JSON.stringify({ ts: sensorTimeMs, channels: { current: 1 } }), { qos: 0 });
    await waitFor(
      'the stranger refused at the reader',
      async () => metricSum(await scrape(pipeline.ports.metrics['sensor-reader']), 'vigil_messages_total', { outcome: 'rejected', reason: 'unlisted_asset' }) >= 1 || undefined,
      10_000,
      200,
    );
  });
});
