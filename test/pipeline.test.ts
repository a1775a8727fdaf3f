/**
 * The whole pipeline as five separate processes, with a real Redis, a real mosquitto and real
 * ZeroMQ sockets: a simulated pump runs normally, then a bearing starts to wear.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { channelsAffectedBy } from '../services/sensor-reader/src/faults.js';
import { healthz, metricSum, scrape } from './harness/metrics.js';
import { MqttListener } from './harness/mqtt-listener.js';
import { PIPELINE_ORDER, startPipeline, type PipelinePorts, type RunningPipeline } from './harness/pipeline.js';
import { waitFor } from './harness/ports.js';

const DEVICE = 'test-device';
const ASSET = 'pump-1';
const RATE_HZ = 10;
const FAULT_START_S = 400;
const TOTAL_SAMPLES = 5000;
/** The reader's first seq block starts at 1 on a fresh Redis, so sample i has seq i + 1. */
const FAULT_START_SEQ = FAULT_START_S * RATE_HZ + 1;

describe('whole pipeline: simulator → MQTT alert', { timeout: 240_000 }, () => {
  let listener: MqttListener;
  let pipeline: RunningPipeline;
  let ports: PipelinePorts;

  before(async () => {
    pipeline = await startPipeline({
      deviceId: DEVICE,
      // Subscribed before any service starts, so it sees every state change.
      beforeServices: async ({ broker }) => {
        listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
      },
      readerEnv: {
        VIGIL_SENSOR_READER_RATE_HZ: String(RATE_HZ),
        VIGIL_SENSOR_READER_SIM_SPEED: '50',
        VIGIL_SENSOR_READER_SIM_SEED: '99',
        VIGIL_SENSOR_READER_SIM_FAULTS: `bearing-wear@${FAULT_START_S}+60`,
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(TOTAL_SAMPLES),
      },
    });
    ports = pipeline.ports;
    await waitFor(
      'every sample to reach the alert-publisher',
      async () => metricSum(await scrape(ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' }) >= TOTAL_SAMPLES || undefined,
      90_000,
      250,
    ).catch(async (error: Error) => {
      for (const name of PIPELINE_ORDER) {
        const counts = await scrape(ports.metrics[name])
          .then((samples) => samples.filter((sample) => sample.name === 'vigil_messages_total' || sample.name === 'vigil_seq_lost_total'))
          .catch(() => 'unreachable');
        console.error(`--- ${name}: ${JSON.stringify(counts)}\n${pipeline.services.get(name)?.text() ?? ''}`);
      }
      throw error;
    });
    // The alert is published after the decision; give the broker's PUBACK a moment.
    await waitFor('an alert', () => listener.on('/alert').length > 0 || undefined, 10_000).catch(() => undefined);
  });

  after(async () => {
    const exits = (await pipeline?.stop()) ?? [];
    await listener?.close();
    for (const exit of exits) assert.equal(exit.code, 0, `${exit.name} exit code`);
  });

  it('publishes an alert for the fault, blaming a sensor the fault moves', () => {
    const alerts = listener.on(`/${ASSET}/alert`).map((message) => JSON.parse(message.payload));
    assert.ok(alerts.length >= 1, 'no alert arrived');
    const first = alerts[0];
    assert.ok(first.seq >= FAULT_START_SEQ, `alert at seq ${first.seq} is before the fault (seq ${FAULT_START_SEQ})`);
    const blamed = first.contributors.map((contributor: { sensor: string }) => contributor.sensor);
    const moved = channelsAffectedBy({ kind: 'bearing-wear' });
    assert.ok(blamed.some((sensor: string) => moved.includes(sensor)), `blamed ${blamed.join(', ')}; the fault moves ${moved.join(', ')}`);
    assert.equal(first.id, `${DEVICE}:${ASSET}:${first.seq}`);
    assert.equal(first.asset, ASSET);
    assert.equal(first.clockSynced, true);
    assert.ok(first.score > first.threshold);
    const latencyS = (first.seq - FAULT_START_SEQ) / RATE_HZ;
    console.log(`# alert latency from fault start: ${latencyS.toFixed(1)} s of sensor time (${first.seq - FAULT_START_SEQ} samples at ${RATE_HZ} Hz)`);
    assert.ok(latencyS < 30, `alert came ${latencyS} s after the fault started`);
    assert.equal(alerts.length, 1, 'one fault, one alert (hysteresis and cooldown)');
  });

  it('raises no alert during a fault-free stretch of at least 2,000 samples', () => {
    const states = listener.on(`/${ASSET}/state`).map((message) => JSON.parse(message.payload));
    const normal = states.find((state) => state.state === 'normal');
    assert.ok(normal, 'the asset never reached the normal state');
    const firstAnomalous = states.find((state) => state.state === 'anomalous');
    assert.ok(firstAnomalous, 'the asset never became anomalous');
    assert.ok(firstAnomalous.seq >= FAULT_START_SEQ, `anomalous at seq ${firstAnomalous.seq}, before the fault`);
    const normalStretch = FAULT_START_SEQ - normal.seq;
    console.log(`# fault-free samples judged normal before the fault: ${normalStretch}`);
    assert.ok(normalStretch >= 2000, `only ${normalStretch} samples were judged before the fault`);
  });

  it('loses nothing: seq is gap-free through every stage', async () => {
    for (const name of PIPELINE_ORDER) {
      const samples = await scrape(ports.metrics[name]);
      assert.equal(metricSum(samples, 'vigil_messages_total', { outcome: 'ok' }), TOTAL_SAMPLES, `${name} ok count`);
      assert.equal(metricSum(samples, 'vigil_messages_total', { outcome: 'dropped' }), 0, `${name} dropped`);
      assert.equal(metricSum(samples, 'vigil_messages_total', { outcome: 'rejected' }), 0, `${name} rejected`);
      assert.equal(metricSum(samples, 'vigil_seq_lost_total'), 0, `${name} saw a seq gap`);
    }
  });

  it('serves /metrics and /healthz on every service', async () => {
    for (const name of PIPELINE_ORDER) {
      const health = await healthz(ports.metrics[name]);
      assert.equal(health.status, 200, `${name} /healthz`);
      const samples = await scrape(ports.metrics[name]);
      assert.ok(samples.some((sample) => sample.name === 'process_resident_memory_bytes'), `${name} exports memory`);
    }
    const inference = await scrape(ports.metrics.inference);
    assert.ok(metricSum(inference, 'vigil_inference_latency_seconds_count') > 0);
    assert.equal(metricSum(inference, 'vigil_model_loads_total', { outcome: 'ok' }), 1, 'model loaded exactly once');
    const publisher = await scrape(ports.metrics['alert-publisher']);
    assert.equal(metricSum(publisher, 'vigil_alerts_published_total'), 1);
    assert.equal(metricSum(publisher, 'vigil_connection_up', { peer: 'mqtt' }), 1);
  });

  it('keeps the device status retained online, and the asset state retained', async () => {
    const late = await MqttListener.connect(pipeline.broker.url, [`vigil/${DEVICE}/#`]);
    try {
      await waitFor('retained status and state', () => (late.on('/status').length > 0 && late.on('/state').length > 0) || undefined, 5_000);
      assert.equal(late.on('/status')[0]?.payload, 'online');
      assert.equal(late.on('/status')[0]?.retain, true);
      assert.equal(late.on(`/${ASSET}/state`)[0]?.retain, true);
    } finally {
      await late.close();
    }
  });
});
