/**
 * The project's broker configuration (mosquitto/mosquitto.conf and the ACL its entrypoint writes),
 * run by a real mosquitto through the real entrypoint script, attacked from the published listener
 * as a user on the plant LAN would: spoofed readings, a taken-over client id, a huge retained
 * message, a user name that would collide with vigil's own client ids.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort, waitFor } from '../harness/ports.js';
import { startProcess, type ManagedProcess } from '../harness/processes.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const READER = { username: 'scada', password: 'scada-secret' };
const SENSOR = { username: 'gateway', password: 'gateway-secret' };
const OPERATOR = { username: 'shift-lead', password: 'operator-secret' };

interface Broker {
  internal: string;
  /** The published TLS listener (mqtts://). */
  remote: string;
  /** The published plaintext listener's URL (listening only with VIGIL_MQTT_PLAINTEXT=true). */
  plaintext: string;
  /** The certificate the published listener presents, as the broker's data folder holds it. */
  ca: Buffer;
  data: string;
  process: ManagedProcess;
}

/** The shipped conf with its private port moved to a free loopback port and its data folder to `data`. */
function projectConfig(data: string, internalPort: number): string {
  const shipped = readFileSync(join(ROOT, 'mosquitto/mosquitto.conf'), 'utf8');
  return shipped
    .replace(/^listener 1884$/m, `listener ${internalPort} 127.0.0.1`)
    .replaceAll('/mosquitto/data/', `${data}/`)
    .replaceAll('/mosquitto/data', data);
}

/** The broker through the project's entrypoint; `data` again restarts it on the same data folder. */
async function startProjectBroker(env: Record<string, string>, data = mkdtempSync(join(tmpdir(), 'vigil-broker-'))): Promise<Broker> {
  chmodSync(data, 0o755);
  const [internalPort, tlsPort, plainPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(data, 'mosquitto.conf');
  writeFileSync(config, projectConfig(data, internalPort));
  chmodSync(config, 0o644);
  const process = startProcess('mosquitto', 'sh', [join(ROOT, 'mosquitto/entrypoint.sh')], {
    ...env,
    VIGIL_MOSQUITTO_DATA: data,
    VIGIL_MOSQUITTO_CONFIG: config,
    VIGIL_MOSQUITTO_TLS_PORT: String(tlsPort),
    VIGIL_MOSQUITTO_PLAIN_PORT: String(plainPort),
    VIGIL_MOSQUITTO_BIND: '127.0.0.1',
  });
  const internal = `mqtt://127.0.0.1:${internalPort}`;
  await waitFor('the broker', () => connectAsync(internal, { reconnectPeriod: 0 }).then((client) => client.endAsync().then(() => true)).catch(() => undefined), 10_000, 200).catch(
    (error: Error) => {
      throw new Error(`${error.message}\n${process.text()}`);
    },
  );
  const ca = readFileSync(join(data, 'tls', env.VIGIL_MQTT_TLS_CERT_FILE ? 'provided.crt' : 'server.crt'));
  return { internal, remote: `mqtts://127.0.0.1:${tlsPort}`, plaintext: `mqtt://127.0.0.1:${plainPort}`, ca, data, process };
}

function collect(client: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const seen: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return seen;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the broker as configured (real mosquitto, the project conf and entrypoint)', { timeout: 60_000 }, () => {
  let broker: Broker;
  const clients: MqttClient[] = [];
  const open = async (url: string, options: Parameters<typeof connectAsync>[1] = {}) => {
    // A client on the LAN verifies the broker's certificate.
    const client = await connectAsync(url, { reconnectPeriod: 0, ...(url.startsWith('mqtts:') ? { ca: broker.ca } : {}), ...options });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  before(async () => {
    broker = await startProjectBroker({
      VIGIL_MQTT_REMOTE_USERNAME: READER.username,
      VIGIL_MQTT_REMOTE_PASSWORD: READER.password,
      VIGIL_MQTT_SENSOR_USERNAME: SENSOR.username,
      VIGIL_MQTT_SENSOR_PASSWORD: SENSOR.password,
      VIGIL_MQTT_OPERATOR_USERNAME: OPERATOR.username,
      VIGIL_MQTT_OPERATOR_PASSWORD: OPERATOR.password,
    });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await broker?.process.stop();
  });

  it('refuses anonymous clients and wrong passwords on the published listener', async () => {
    await assert.rejects(connectAsync(broker.remote, { reconnectPeriod: 0, ca: broker.ca }), /Not authorized|Bad username|refused/i);
    await assert.rejects(connectAsync(broker.remote, { reconnectPeriod: 0, ca: broker.ca, username: READER.username, password: 'guess' }), /Not authorized|Bad username|refused/i);
  });

  it('lets the remote user read alerts but not write readings, and the sensor user write readings only under its own name', async () => {
    const inside = await open(broker.internal, { clientId: 'vigil-test-reader' });
    const readings = collect(inside);
    await inside.subscribeAsync('sensors/#', { qos: 1 });
    const scada = await open(broker.remote, READER);
    const alerts = collect(scada);
    await scada.subscribeAsync('vigil/#', { qos: 1 });
    const gateway = await open(broker.remote, SENSOR);

    await inside.publishAsync('vigil/vigil-pi/pump-1/alert', '{"severity":"warning"}', { qos: 1 });
    await scada.publishAsync('sensors/scada/pump-1', '{"pressure": 9}', { qos: 1 });
    await scada.publishAsync('vigil/vigil-pi/pump-1/alert', '{"forged":true}', { qos: 1 });
    await gateway.publishAsync('sensors/gateway/pump-1', '{"pressure": 1.2}', { qos: 1 });
    await gateway.publishAsync('sensors/scada/pump-1', '{"pressure": 99}', { qos: 1 });
    await gateway.publishAsync('sensors/pump-1', '{"pressure": 99}', { qos: 1 });
    await waitFor('the allowed messages', () => (readings.length >= 1 && alerts.length >= 1) || undefined, 5_000, 50);
    await sleep(500);
    assert.deepEqual(readings.map((m) => m.topic), ['sensors/gateway/pump-1'], 'only the sensor user, only under its name');
    assert.deepEqual(alerts.map((m) => m.payload), ['{"severity":"warning"}'], 'no forged alert');
  });

  it('lets only the operator user send commands, to an asset or to the whole device', async () => {
    const inside = await open(broker.internal, { clientId: 'vigil-test-commands' });
    const commands = collect(inside);
    await inside.subscribeAsync(['vigil/+/+/command', 'vigil/+/command'], { qos: 1 });
    const scada = await open(broker.remote, READER);
    const gateway = await open(broker.remote, SENSOR);
    const operator = await open(broker.remote, OPERATOR);
    await scada.publishAsync('vigil/vigil-pi/pump-1/command', '{"id":"s","command":"unmute"}', { qos: 1 });
    await gateway.publishAsync('vigil/vigil-pi/pump-1/command', '{"id":"g","command":"unmute"}', { qos: 1 });
    await operator.publishAsync('vigil/vigil-pi/pump-1/command', '{"id":"o","command":"unmute"}', { qos: 1 });
    await scada.publishAsync('vigil/vigil-pi/command', '{"id":"s-all","command":"unmute"}', { qos: 1 });
    await operator.publishAsync('vigil/vigil-pi/command', '{"id":"o-all","command":"unmute"}', { qos: 1 });
    await operator.publishAsync('vigil/vigil-pi/pump-1/alert', '{"forged":true}', { qos: 1 });
    await waitFor('the operator commands', () => commands.length > 1 || undefined, 5_000, 50);
    await sleep(500);
    assert.deepEqual(commands.map((m) => JSON.parse(m.payload).id), ['o', 'o-all']);
  });

  it('lets Home Assistant and a SCADA host read discovery and Sparkplug, send only their birth and rebirth requests, and forge neither', async () => {
    const inside = await open(broker.internal, { clientId: 'vigil-test-integrations' });
    const heard = collect(inside);
    await inside.subscribeAsync(['homeassistant/#', 'spBv1.0/#'], { qos: 1 });
    const homeAssistant = await open(broker.remote, READER);
    const seen = collect(homeAssistant);
    await homeAssistant.subscribeAsync(['homeassistant/#', 'spBv1.0/#'], { qos: 1 });
    const operator = await open(broker.remote, OPERATOR);
    const gateway = await open(broker.remote, SENSOR);

    await inside.publishAsync('homeassistant/binary_sensor/vigil_pi/pump-1_problem/config', '{"real":true}', { qos: 1, retain: true });
    await inside.publishAsync('spBv1.0/vigil/DDATA/vigil-pi/pump-1', 'real', { qos: 1 });
    await homeAssistant.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await homeAssistant.publishAsync('homeassistant/binary_sensor/vigil_pi/pump-1_problem/config', '{"forged":true}', { qos: 1, retain: true });
    await homeAssistant.publishAsync('spBv1.0/vigil/NCMD/vigil-pi', 'from the reader', { qos: 1 });
    await gateway.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await gateway.publishAsync('spBv1.0/vigil/NCMD/vigil-pi', 'from the gateway', { qos: 1 });
    await operator.publishAsync('spBv1.0/vigil/NCMD/vigil-pi', 'rebirth', { qos: 1 });
    await operator.publishAsync('spBv1.0/vigil/DDATA/vigil-pi/pump-1', 'forged', { qos: 1 });
    await waitFor('what may pass', () => heard.length >= 4 || undefined, 5_000, 50);
    await sleep(500);
    assert.deepEqual(
      heard.map((m) => `${m.topic} ${m.payload}`).sort(),
      [
        'homeassistant/binary_sensor/vigil_pi/pump-1_problem/config {"real":true}',
        'homeassistant/status online',
        'spBv1.0/vigil/DDATA/vigil-pi/pump-1 real',
        'spBv1.0/vigil/NCMD/vigil-pi rebirth',
      ],
      'the birth from the remote user, the rebirth request from the operator, nothing forged',
    );
    assert.ok(seen.some((m) => m.payload === '{"real":true}') && seen.some((m) => m.payload === 'real'), 'the remote user reads both');
  });

  it("keeps vigil's client ids for vigil: a remote client asking for one does not disconnect vigil's publisher", async () => {
    const publisher = await open(broker.internal, { clientId: 'vigil-vigil-pi-alerts' });
    let kicked = false;
    publisher.on('close', () => (kicked = true));
    for (let attempt = 0; attempt < 5; attempt++) {
      const intruder = await open(broker.remote, { ...READER, clientId: 'vigil-vigil-pi-alerts' });
      await intruder.endAsync();
    }
    await sleep(300);
    assert.equal(kicked, false);
    assert.equal(publisher.connected, true);
  });

  it('refuses retained messages past 64 KiB (256 KiB, and the 5 MiB of the attack): the sender is disconnected and nothing is kept', async () => {
    for (const size of [256 * 1024, 5 * 1024 * 1024]) {
      const gateway = await open(broker.remote, SENSOR);
      const closed = new Promise<void>((resolve) => gateway.once('close', () => resolve()));
      gateway.publish(`sensors/gateway/huge-${size}`, Buffer.alloc(size, 0x41), { qos: 0, retain: true });
      await closed;
    }
    const late = await open(broker.internal);
    const retained = collect(late);
    await late.subscribeAsync('sensors/#', { qos: 1 });
    await sleep(500);
    assert.deepEqual(retained.filter((m) => m.topic.startsWith('sensors/gateway/huge')), []);
  });

  it("refuses to start with a remote user name that would take vigil's client ids, saying why", async () => {
    const result = spawnSync('sh', [join(ROOT, 'mosquitto/entrypoint.sh')], {
      env: { ...process.env, VIGIL_MQTT_REMOTE_USERNAME: 'vigil-vigil-pi-alerts', VIGIL_MQTT_REMOTE_PASSWORD: 'x', VIGIL_MOSQUITTO_DATA: mkdtempSync(join(tmpdir(), 'vigil-broker-')) },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /starts with 'vigil'/);
  });
});

describe('the published listener speaks TLS (real mosquitto, the project conf and entrypoint)', { timeout: 60_000 }, () => {
  const user = { VIGIL_MQTT_REMOTE_USERNAME: READER.username, VIGIL_MQTT_REMOTE_PASSWORD: READER.password };
  const brokers: Broker[] = [];
  const start = async (env: Record<string, string>, data?: string) => {
    const broker = await startProjectBroker({ ...user, ...env }, data);
    brokers.push(broker);
    return broker;
  };
  const stopAll = async () => {
    for (const broker of brokers.splice(0)) await broker.process.stop();
  };
  const subscribeOnce = async (url: string, options: Parameters<typeof connectAsync>[1]) => {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...READER, ...options });
    await client.subscribeAsync('vigil/#');
    await client.endAsync();
  };

  after(stopAll);

  it('makes a certificate on first start, logs its fingerprint once, and keeps it across restarts', async () => {
    const first = await start({});
    const certificate = new X509Certificate(first.ca);
    assert.match(certificate.subjectAltName ?? '', /DNS:localhost/);
    assert.match(certificate.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    const logged = /SHA-256 fingerprint ([0-9A-F:]+)/.exec(first.process.text());
    assert.equal(logged?.[1], certificate.fingerprint256, 'the logged fingerprint is the certificate\'s');
    // A client that verifies the certificate gets in; one that trusts only the usual CAs does not.
    await subscribeOnce(first.remote, { ca: first.ca });
    await assert.rejects(subscribeOnce(first.remote, {}), /self[- ]signed|unable to verify|certificate/i);
    // No plaintext on the published side unless asked for.
    await assert.rejects(subscribeOnce(first.plaintext, {}), /ECONNREFUSED/);
    await first.process.stop();

    const again = await start({}, first.data);
    assert.equal(new X509Certificate(again.ca).fingerprint256, certificate.fingerprint256, 'the same certificate after a restart');
    assert.doesNotMatch(again.process.text(), /generated the MQTT TLS certificate/);
    await again.process.stop();
    // A name added for the LAN (the Pi's address or mDNS name) makes it anew, with that name in it.
    const renamed = await start({ VIGIL_MQTT_TLS_HOSTNAMES: 'pump-house.local,192.168.7.20' }, first.data);
    const newer = new X509Certificate(renamed.ca);
    assert.notEqual(newer.fingerprint256, certificate.fingerprint256);
    assert.match(newer.subjectAltName ?? '', /DNS:pump-house\.local/);
    assert.match(newer.subjectAltName ?? '', /IP Address:192\.168\.7\.20/);
    assert.match(renamed.process.text(), /generated the MQTT TLS certificate/);
    await subscribeOnce(renamed.remote, { ca: renamed.ca });
    await stopAll();
  });

  it("presents the user's own certificate, and plaintext only when VIGIL_MQTT_PLAINTEXT asks for it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-own-cert-'));
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', '/CN=plant-ca-issued', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    chmodSync(join(dir, 'key.pem'), 0o600);
    const broker = await start({ VIGIL_MQTT_TLS_CERT_FILE: join(dir, 'cert.pem'), VIGIL_MQTT_TLS_KEY_FILE: join(dir, 'key.pem'), VIGIL_MQTT_PLAINTEXT: 'true' });
    const own = readFileSync(join(dir, 'cert.pem'));
    assert.equal(new X509Certificate(broker.ca).fingerprint256, new X509Certificate(own).fingerprint256);
    await subscribeOnce(broker.remote, { ca: own });
    await subscribeOnce(broker.plaintext, {});
    await assert.rejects(connectAsync(broker.plaintext, { reconnectPeriod: 0 }), /Not authorized|Bad username|refused/i);
    await stopAll();
  });

  it('refuses to start on a half-given certificate or a plaintext setting that is not true or false, saying why', () => {
    const run = (env: Record<string, string>) =>
      spawnSync('sh', [join(ROOT, 'mosquitto/entrypoint.sh')], { env: { ...process.env, ...env, VIGIL_MOSQUITTO_DATA: mkdtempSync(join(tmpdir(), 'vigil-broker-')) }, encoding: 'utf8', timeout: 10_000 });
    const half = run({ VIGIL_MQTT_TLS_CERT_FILE: '/nowhere/cert.pem' });
    assert.equal(half.status, 1);
    assert.match(half.stderr, /needs its key: set both VIGIL_MQTT_TLS_CERT_FILE and VIGIL_MQTT_TLS_KEY_FILE/);
    const plain = run({ VIGIL_MQTT_PLAINTEXT: 'yes' });
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, /VIGIL_MQTT_PLAINTEXT must be true or false/);
  });
});
