/**
 * The five services as separate processes (real Redis, mosquitto, ZeroMQ), attacked while a real
 * pump reports over MQTT: a gateway sending nanosecond timestamps, a flood of asset names with a
 * restart of the preprocessor in the middle of it, and a stranger on the network pushing forged
 * decisions into the alert-publisher. The pump's fault must still raise its alert; every
 * per-asset resource must stay within its bound; nothing forged may go out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { curveKeyPair, Push } from 'zeromq';
import { pipeKeysFromSecret } from '@vigil/shared/runtime';
import { PumpSimulator } from '../../services/sensor-reader/src/pump-simulator.js';
import { metricSum, scrape } from '../harness/metrics.js';
import { MqttListener } from '../harness/mqtt-listener.js';
import { PIPELINE_ORDER, startHealthy, startPipeline, type RunningPipeline } from '../harness/pipeline.js';
import { waitFor } from '../harness/ports.js';

const DEVICE = 'hostile';
const ASSET = 'pump-1';
const READER_MAX_ASSETS = 8;
const SAMPLE_MS = 100;
const NORMAL_SAMPLES = 2_000;
const FLOOD_NAMES = 3_000;

describe('attacks on a running pipeline, while a real asset reports', { timeout: 240_000 }, () => {
  let pipeline: RunningPipeline;
  let listener: MqttListener;
  let gateway: MqttClient;
  let redis: Redis;
  const simulator = new PumpSimulator({ seed: 5, rateHz: 1000 / SAMPLE_MS });
  // Sensor time an hour back, so that every sample of the test is in the past.
  let sensorTimeMs = Date.now() - 3_600_000;

  /** One pump reading, stamped in nanoseconds since the epoch as some gateways do. */
  const sendPump = (count: number) => {
    for (let i = 0; i < count; i++) {
      sensorTimeMs += SAMPLE_MS;
      gateway.publish(`sensors/gateway/${ASSET}`, JSON.stringify({ ts: sensorTimeMs * 1e6, channels: simulator.next() }), { qos: 0 });
    }
  };
  const publisherOk = async () => metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' });

  before(async () => {
    pipeline = await startPipeline({
      deviceId: DEVICE,
      beforeServices: async ({ broker }) => {
        listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
      },
      readerEnv: {
        VIGIL_SENSOR_READER_SOURCE: 'mqtt',
        VIGIL_SENSOR_READER_ASSET: ASSET,
        VIGIL_SENSOR_READER_MAX_ASSETS: String(READER_MAX_ASSETS),
        VIGIL_SENSOR_READER_MQTT_TOPICS: 'sensors/#',
      },
    });
    gateway = await connectAsync(pipeline.broker.url, { clientId: 'gateway' });
    redis = new Redis(pipeline.redis.url);
  });

  after(async () => {
    await gateway?.endAsync(true);
    await listener?.close();
    redis?.disconnect();
    for (const exit of (await pipeline?.stop()) ?? []) assert.equal(exit.code, 0, `${exit.name} exit code`);
  });

  it('learns nothing from a flood of asset names and a restart during it, and still alerts on the pump read in nanoseconds', async () => {
    // Normal operation past the scaler's warm-up, interleaved with the flood.
    const junk = (i: number) => `junk-${i}`;
    for (let batch = 0; batch < 20; batch++) {
      sendPump(NORMAL_SAMPLES / 20);
      for (let i = (batch * FLOOD_NAMES) / 20; i < ((batch + 1) * FLOOD_NAMES) / 20; i++) {
        gateway.publish(`sensors/gateway/${junk(i)}`, JSON.stringify({ ts: sensorTimeMs * 1e6, channels: simulator.next() }), { qos: 0 });
      }
      // Names no stage may take: 10 KB long, or with a newline (on a topic without an asset level).
      gateway.publish(`sensors/gateway/${'x'.repeat(10_000)}-${batch}`, '{"pressure": 1}', { qos: 0 });
      gateway.publish('sensors/loose', JSON.stringify({ asset: `bad\nname-${batch}`, channels: { pressure: 1 } }), { qos: 0 });
      if (batch === 10) {
        // The preprocessor restarts in the middle of the flood: the pump must get its slot back.
        await pipeline.services.get('preprocessor')?.stop();
        pipeline.services.set('preprocessor', await startHealthy('preprocessor', pipeline.env.preprocessor, pipeline.ports.metrics.preprocessor));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor('the pump past warm-up at the publisher', async () => ((await publisherOk()) >= 1_500 ? true : undefined), 60_000, 250);
    const okBeforeFault = await publisherOk();

    const falseAlarms = listener.on(`/${ASSET}/alert`).length;
    const faultFromMs = sensorTimeMs;
    simulator.addFault({ kind: 'cavitation', startS: simulator.timeS, durationS: 120 });
    let alert: { asset: string; seq: number; ts: number; time: string } | undefined;
    for (let round = 0; round < 60 && !alert; round++) {
      sendPump(50);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const message = listener.on(`/${ASSET}/alert`)[falseAlarms];
      if (message) alert = JSON.parse(message.payload) as typeof alert;
    }
    console.log(`# ${falseAlarms} alerts before the fault; the fault's ${alert ? `${((alert.ts - faultFromMs) / 1000).toFixed(1)} s of sensor time after it began` : 'never came'}`);
    assert.ok(alert, 'the fault raised an alert');
    assert.equal(alert.asset, ASSET);
    assert.ok(alert.ts >= faultFromMs, 'after the fault began');
    // The nanosecond stamps were read as the right instant: within the hour the test sent.
    const alertTime = Date.parse(alert.time);
    assert.ok(Math.abs(alertTime - sensorTimeMs) < 3_600_000, `alert time ${alert.time}`);

    const reader = await scrape(pipeline.ports.metrics['sensor-reader']);
    assert.ok(metricSum(reader, 'vigil_messages_total', { outcome: 'rejected', reason: 'too_many_assets' }) >= FLOOD_NAMES - READER_MAX_ASSETS - 50, 'the flood was refused at the reader');
    assert.ok(metricSum(reader, 'vigil_messages_total', { outcome: 'rejected', reason: 'bad_asset' }) >= 20, 'bad names were refused');
    assert.ok((await publisherOk()) > okBeforeFault, 'the pump kept flowing');
    for (const stage of ['preprocessor', 'adaptive-threshold'] as const) {
      const samples = await scrape(pipeline.ports.metrics[stage]);
      const assets = new Set(samples.filter((sample) => sample.labels.asset !== undefined).map((sample) => sample.labels.asset));
      assert.ok(assets.size <= READER_MAX_ASSETS, `${stage} has metric series for ${assets.size} assets`);
      assert.ok(assets.has(ASSET), `${stage} tracks the pump`);
    }
    // Redis: a seq counter, a scaler and a threshold state per admitted asset, no more.
    const keys = await redis.keys('vigil:*');
    assert.ok(keys.length <= 3 * READER_MAX_ASSETS, `${keys.length} keys in Redis`);
    for (const key of keys) assert.ok((await redis.ttl(key)) > 0, `${key} expires`);
    const health = await fetch(`http://127.0.0.1:${pipeline.ports.metrics['sensor-reader']}/healthz`);
    assert.equal(health.status, 503, 'the reader says a bound was reached');
    assert.match(await health.text(), /"asset_slots":false/);
    for (const name of PIPELINE_ORDER) assert.ok(pipeline.services.get(name)?.running, `${name} is running`);
  });

  it('refuses strangers pushing forged decisions into the publisher, even one that knows its public key', async () => {
    const before = listener.on('/alert').length;
    const endpoint = `tcp://127.0.0.1:${pipeline.ports.input['alert-publisher']}`;
    // A stranger without a key, and one that knows the input's public key (public keys are not
    // secret) but holds a pair of its own. immediate: a message is queued only on a connection
    // whose handshake completed, so `accepted` counts real pipes.
    const secret = pipeline.env['alert-publisher'].VIGIL_PIPE_SECRET_KEY as string;
    const own = curveKeyPair();
    const strangers = [
      new Push({ linger: 0, sendTimeout: 0, immediate: true }),
      new Push({ linger: 0, sendTimeout: 0, immediate: true, curveServerKey: pipeKeysFromSecret(secret).publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey }),
    ];
    const failedHandshakes = [0, 0];
    for (const [index, stranger] of strangers.entries()) {
      stranger.events.on('handshake:error:protocol', () => (failedHandshakes[index] = (failedHandshakes[index] ?? 0) + 1));
      stranger.events.on('handshake:error:auth', () => (failedHandshakes[index] = (failedHandshakes[index] ?? 0) + 1));
      stranger.connect(endpoint);
    }
    let accepted = 0;
    for (let seq = 1; seq <= 200; seq++) {
      const forged = {
        v: 1, kind: 'decision', asset: 'pump-9', seq, ts: Date.now(), ingestTs: Date.now(), state: 'anomalous', changed: true, since: Date.now(),
        score: 99, threshold: { high: 1, low: 0.5 }, contributions: { pressure: 1 }, model: { name: 'forged', version: '1' },
      };
      for (const stranger of strangers) {
        await stranger.send(JSON.stringify(forged)).then(
          () => (accepted += 1),
          () => undefined,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const stranger of strangers) stranger.close();
    // The informed stranger is refused by the publisher itself (ZAP), which counts it; a stranger
    // without a key fails the handshake on both sides, whichever notices first.
    await waitFor(
      'the informed stranger refused and counted',
      async () =>
        metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_pipe_handshakes_refused_total', { direction: 'input', reason: 'not_admitted' }) > 0 || undefined,
      10_000,
      200,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.ok((failedHandshakes[0] ?? 0) > 0 && (failedHandshakes[1] ?? 0) > 0, `handshakes failed: ${failedHandshakes.join(', ')}`);
    assert.equal(accepted, 0, 'no pipe to the publisher was ever open to a stranger');
    assert.equal(listener.on('/alert').length, before, 'no forged alert');
    assert.equal(listener.on('/pump-9/alert').length, 0);
  });
});
