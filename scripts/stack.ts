/**
 * npm run stack [-- --speed 5 --faults bearing-wear@240+120]
 * Runs the five services as local processes against Redis and an MQTT broker (defaults
 * redis://127.0.0.1:6379 and mqtt://127.0.0.1:1883, or VIGIL_REDIS_URL / VIGIL_MQTT_URL), with the
 * simulated pump and a fault within the first minute, and prints the alerts and state changes
 * the broker carries. Trains a model first if models/current does not exist. Ctrl-C stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type MqttClient } from 'mqtt';
import { DEFAULT_CLEANER_POLICIES, DEFAULT_FEATURE_SPEC, DEFAULT_FORWARD_FILL_LIMIT, PUMP_PHYSICAL_LIMITS } from '@vigil/shared/features';
import { generatePipeKeys, SERVICE_ENV, SERVICE_NODE_FLAGS, STAGES, TOPOLOGY } from '@vigil/shared/runtime';
import { buildBundle } from '../training/src/bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS } from '../training/src/trainer.js';
import { PumpSimulator } from '../services/sensor-reader/src/pump-simulator.js';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    speed: { type: 'string', default: '5' },
    faults: { type: 'string', default: 'bearing-wear@240+120,leak@480+60' },
    repeat: { type: 'string', default: '600' },
    model: { type: 'string', default: join(root, 'models/current') },
  },
});
const redisUrl = process.env.VIGIL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const mqttUrl = process.env.VIGIL_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const deviceId = process.env.VIGIL_DEVICE_ID ?? 'vigil-pi';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connectTcp(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

for (const [name, url, hint] of [
  ['Redis', redisUrl, 'sudo apt-get install -y redis-server   (or: redis-server --daemonize yes)'],
  ['MQTT broker', mqttUrl, 'sudo apt-get install -y mosquitto     (or: mosquitto -d)'],
] as const) {
  if (!(await reachable(url))) {
    console.error(`${name} is not reachable at ${url}. Start one:\n  ${hint}`);
    process.exit(1);
  }
}

/** Whether a port on loopback is free to bind. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// Every port the stages bind, checked before any starts: a taken one is one line, not a crash.
for (const stage of STAGES) {
  const { opsPort, inputPort } = TOPOLOGY[stage];
  for (const [port, what] of [[opsPort, 'ops'], [inputPort, 'input']] as const) {
    if (port !== undefined && !(await portFree(port))) {
      console.error(`Port ${port} (${stage} ${what}) is in use: stop what holds it (another npm run stack? see: ss -ltnp | grep ${port}) and start again.`);
      process.exit(1);
    }
  }
}

if (!existsSync(join(args.model ?? '', 'bundle.json'))) {
  // What learn mode would build on the device after its scaler warm-up and five minutes of normal
  // running, done here from the simulator so the stack detects from its first minute.
  console.log(`No model at ${args.model}: learning the default detector from the simulated pump running normally...`);
  const simulator = new PumpSimulator({ seed: 3, rateHz: 10 });
  const readings = Array.from({ length: DEFAULT_FEATURE_SPEC.scalerWarmup + 3000 }, () => ({ ...simulator.next() }));
  const manifest = await buildBundle(readings, args.model ?? '', {
    name: 'pump-detector',
    version: new Date().toISOString().slice(0, 10),
    featureSettings: { ...DEFAULT_FEATURE_SPEC, limits: PUMP_PHYSICAL_LIMITS, policies: DEFAULT_CLEANER_POLICIES, forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT },
    train: DEFAULT_TRAIN_OPTIONS,
    precision: 'fp32',
    kind: 'auto-detector',
    timestamps: readings.map((_, index) => index * 100),
  });
  console.log(`Learned from ${manifest.training.samples} samples.`);
}

mkdirSync(join(root, '.stack'), { recursive: true });
// Every stage binds loopback only; the pipeline key still keeps another local process from
// pushing into a stage, and the fault token from injecting faults. Both are new on every run.
const faultToken = randomBytes(12).toString('hex');
const common = { VIGIL_REDIS_URL: redisUrl, VIGIL_MQTT_URL: mqttUrl, VIGIL_DEVICE_ID: deviceId, VIGIL_PIPE_SECRET_KEY: generatePipeKeys().secretKey };
const services: Array<[string, Record<string, string>]> = [
  ['alert-publisher', { VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(root, '.stack/alert-outbox.jsonl') }],
  ['adaptive-threshold', {}],
  ['inference', { VIGIL_INFERENCE_MODEL_PATH: args.model ?? '' }],
  ['preprocessor', {}],
  [
    'sensor-reader',
    { VIGIL_SENSOR_READER_FAULT_TOKEN: faultToken, VIGIL_SENSOR_READER_SIM_SPEED: args.speed ?? '5', VIGIL_SENSOR_READER_SIM_FAULTS: args.faults ?? '', VIGIL_SENSOR_READER_SIM_REPEAT_S: args.repeat ?? '600' },
  ],
];
const children: ChildProcess[] = [];
let mqtt: MqttClient | undefined;
let stopping = false;
/** Stops every process the stack started, the source first; exits 1 if one had died on its own. */
async function stop(exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  mqtt?.end(true);
  // Reverse order: the source stops first, so nothing is in flight when a stage closes.
  for (const child of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  process.exit(exitCode);
}

for (const [name, env] of services) {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(root, 'services', name, 'dist/main.js')], {
    env: { ...SERVICE_ENV, ...process.env, ...common, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}); stopping the stack`);
    void stop(1);
  });
  children.push(child);
  // Downstream first: each input is bound before its sender starts.
  await new Promise((resolve) => setTimeout(resolve, 400));
}

mqtt = connect(mqttUrl, { clientId: `vigil-stack-watch-${process.pid}` });
mqtt.on('connect', () => mqtt?.subscribe(`vigil/${deviceId}/#`));
mqtt.on('error', () => undefined);
mqtt.on('message', (topic, payload) => {
  const text = payload.toString();
  if (topic.endsWith('/alert')) {
    const alert = JSON.parse(text) as { asset: string; severity: string; contributors: Array<{ sensor: string; share: number }> };
    const blame = alert.contributors.map((c) => `${c.sensor} ${Math.round(c.share * 100)}%`).join(', ');
    console.log(`\n>>> ALERT ${alert.asset} (${alert.severity}): ${blame}\n`);
  } else if (topic.endsWith('/state')) {
    console.log(`--- ${topic}: ${text}`);
  }
});

const speed = Number(args.speed);
console.log(
  `\nvigil is running: simulated pump at ${speed}x speed, faults ${args.faults}.` +
    `\nWarm-up takes ~${Math.round(150 / speed)} s (scaler, then threshold); metrics on http://127.0.0.1:${TOPOLOGY['sensor-reader'].opsPort}-${TOPOLOGY['alert-publisher'].opsPort}/metrics.` +
    `\nInject a fault any time: curl -X POST -H 'authorization: Bearer ${faultToken}' localhost:${TOPOLOGY['sensor-reader'].opsPort}/faults -d '{"kind":"cavitation","durationS":60}'\nCtrl-C stops.\n`,
);

process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
