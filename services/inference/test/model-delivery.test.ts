/**
 * Models delivered to a fleet: signed archives as a retained MQTT message on the fleet's topic and
 * at a URL, taken by the inference service in this process (real mosquitto, real HTTP server,
 * real bundles) only when their signature holds; what a stranger could send instead is refused,
 * with the reason on the retained model topic.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { generateSigningKeys, packBundle, signBundle } from '@vigil/shared/model';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { defaultTestBundle } from '../../../test/harness/model-fixture.js';
import { MqttListener } from '../../../test/harness/mqtt-listener.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';
import type { ModelStatus } from '../src/model-link.js';

const DEVICE = 'edge-fleet';
const FLEET_TOPIC = 'vigil/fleet/pumps/model';

describe('models delivered to a fleet (in-process inference, real mosquitto, real HTTP)', { timeout: 120_000 }, () => {
  const fleet = generateSigningKeys();
  const stranger = generateSigningKeys();
  let broker: TestServer;
  let listener: MqttListener;
  let fleetPublisher: MqttClient;
  let folder: string;

  /** A bundle under its own version, signed by `key` (or not), packed as an archive. */
  const archive = async (version: string, key: string | undefined): Promise<Buffer> => {
    const dir = join(folder, `bundle-${version}-${Math.random().toString(16).slice(2)}`);
    await cp(await defaultTestBundle(), dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as { version: string };
    manifest.version = version;
    await writeFile(join(dir, 'bundle.json'), JSON.stringify(manifest));
    if (key) await signBundle(dir, key);
    return packBundle(dir);
  };
  const status = (): ModelStatus | undefined => {
    const last = listener.on('/pump-1/model').at(-1);
    return last ? (JSON.parse(last.payload) as ModelStatus) : undefined;
  };

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'vigil-fleet-'));
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
    fleetPublisher = await connectAsync(broker.url);
  });

  after(async () => {
    await fleetPublisher.endAsync();
    await listener.close();
    await broker.stop();
  });

  const start = async (extra: Record<string, unknown>): Promise<InferenceUnderTest> => {
    const modelPath = join(await mkdtemp(join(folder, 'models-')), 'current');
    await rename(await (async () => {
      const dir = join(folder, `initial-${Math.random().toString(16).slice(2)}`);
      await cp(await defaultTestBundle(), dir, { recursive: true });
      await signBundle(dir, fleet.privateKeyPem);
      return dir;
    })(), modelPath);
    return startInferenceUnderTest({ modelPath, modelWatchMs: 200, deviceId: DEVICE, modelPublicKey: fleet.publicKeyBase64, mqtt: { url: broker.url }, shadowS: 0, ...extra });
  };
  const scoreOnce = async (inference: InferenceUnderTest) => {
    // The model topic is per asset: score one sample so the asset has one.
    const { encodeMessage, SCHEMA_VERSION } = await import('@vigil/shared/runtime');
    const size = inference.service.bundle?.inputSize ?? 0;
    await inference.upstream.send(encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'pump-1', seq: 1, ts: Date.now(), ingestTs: Date.now(), features: Array.from({ length: size }, () => 0), warmup: false, imputed: [] }));
    await waitFor('the model topic', () => status() || undefined, 10_000);
  };

  it('takes a signed archive from the retained fleet topic and refuses unsigned, strangers\' and malicious ones with the reason', async () => {
    const inference = await start({ modelFleetTopic: FLEET_TOPIC });
    try {
      await scoreOnce(inference);
      await fleetPublisher.publishAsync(FLEET_TOPIC, await archive('fleet-1', fleet.privateKeyPem), { qos: 1, retain: true });
      await waitFor('fleet-1 in service', () => inference.service.bundle?.manifest.version === 'fleet-1' || undefined, 10_000);
      await waitFor('reported', () => status()?.lastDelivery?.outcome === 'installed' || undefined, 10_000);

      const refusals: Array<[Buffer, RegExp]> = [
        [await archive('unsigned', undefined), /unsigned/],
        [await archive('stranger', stranger.privateKeyPem), /another key/],
        [gzipSync(Buffer.from(JSON.stringify({ format: 'vigil-bundle-archive', files: { '../../escape.json': 'e30=' } }))), /not a plain file name/],
        [Buffer.from('not gzip'), /not a bundle archive/],
      ];
      for (const [payload, reason] of refusals) {
        await fleetPublisher.publishAsync(FLEET_TOPIC, payload, { qos: 1, retain: true });
        await waitFor(`refused: ${reason.source}`, () => (status()?.lastDelivery?.outcome === 'refused' && reason.test(status()?.lastDelivery?.reason ?? '')) || undefined, 10_000);
        assert.equal(inference.service.bundle?.manifest.version, 'fleet-1', 'the model in service stays');
      }
    } finally {
      await inference.stop();
      await fleetPublisher.publishAsync(FLEET_TOPIC, '', { qos: 1, retain: true });
    }
    // A device started later finds the retained archive, and one already in service changes nothing.
    await fleetPublisher.publishAsync(FLEET_TOPIC, await archive('fleet-2', fleet.privateKeyPem), { qos: 1, retain: true });
    const late = await start({ modelFleetTopic: FLEET_TOPIC });
    try {
      await waitFor('fleet-2 in service', () => late.service.bundle?.manifest.version === 'fleet-2' || undefined, 10_000);
    } finally {
      await late.stop();
      await fleetPublisher.publishAsync(FLEET_TOPIC, '', { qos: 1, retain: true });
    }
  });

  it('checks a URL for a signed archive, downloads it only when it changed, and refuses a bad one', async () => {
    let body = await archive('url-1', fleet.privateKeyPem);
    let etag = '"1"';
    let downloads = 0;
    const server = createServer((request, response) => {
      if (request.headers['if-none-match'] === etag) {
        response.writeHead(304).end();
        return;
      }
      downloads += 1;
      response.writeHead(200, { etag, 'content-type': 'application/octet-stream' }).end(body);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const inference = await start({ modelUrl: `http://127.0.0.1:${port}/pumps.vba`, modelUrlCheckS: 1 });
    try {
      await scoreOnce(inference);
      await waitFor('url-1 in service', () => inference.service.bundle?.manifest.version === 'url-1' || undefined, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(downloads, 1, 'an unchanged archive is not downloaded again');
      body = await archive('url-2', stranger.privateKeyPem);
      etag = '"2"';
      await waitFor('refused', () => (status()?.lastDelivery?.outcome === 'refused' && status()?.lastDelivery?.from === 'url') || undefined, 10_000);
      assert.equal(inference.service.bundle?.manifest.version, 'url-1');
    } finally {
      await inference.stop();
      server.close();
    }
  });

  it('refuses to start fleet delivery without a public key, saying why', async () => {
    const { loadInferenceConfig } = await import('../src/config.js');
    assert.throws(() => loadInferenceConfig({ modelFleetTopic: FLEET_TOPIC, mqtt: { url: broker.url } }), /needs VIGIL_MODEL_PUBLIC_KEY/);
    assert.throws(() => loadInferenceConfig({ modelFleetTopic: 'vigil/fleet/#', mqtt: { url: broker.url }, modelPublicKey: fleet.publicKeyBase64 }), /without the wildcards/);
  });
});
