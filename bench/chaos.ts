/**
 * npm run chaos [-- --minutes 30 --seed 1 --fault-every 6]   (root, Docker: as npm run test:compose)
 * The compose stack as shipped, for a set time, under random trouble: a stage SIGKILLed, the broker
 * or Redis restarted, a stage paused, a stage cut off the stack's network; while the simulated pump
 * gets a fault injected on a schedule (every --fault-every minutes, more than the alert cooldown,
 * kinds in turn). An operator's persistent MQTT session over TLS listens throughout. At the end:
 * every injected fault alerted or not, alerts the broker acknowledged against alerts the subscriber
 * got (lost, repeated), readings delivered and counted as lost (Prometheus inside the stack, whose
 * increase() spans the restarts), the most memory each container used against its limit, restarts
 * and OOM kills. Prints a table, writes bench/results/chaos.json, exits 1 if a fault went
 * unalerted or an alert was lost.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SeededRandom, STAGES } from '@vigil/shared/runtime';
import { metricSum } from '../test/harness/metrics.js';
import { MqttListener } from '../test/harness/mqtt-listener.js';
import { waitFor } from '../test/harness/ports.js';
import { buildStandins, ensureEngine, logFolder, ROOT, run, runLogged } from '../test/compose/docker.js';
import { ComposeStack, OPS_PORT } from '../test/compose/stack.js';
import { machineDescription, resultsFile, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    'fault-every': { type: 'string', default: '6' },
    'keep-up': { type: 'boolean', default: false },
  },
});
const minutes = Number(args.minutes);
const random = new SeededRandom(Number(args.seed));
const faultEveryMs = Number(args['fault-every']) * 60_000;
const FAULT_S = 90;
const FAULT_KINDS = ['bearing-wear', 'cavitation', 'leak'] as const;
const ASSET = 'pump-1';

const logs = logFolder('chaos');
const token = randomBytes(12).toString('hex');
const stack = new ComposeStack(
  'vigilchaos',
  logs,
  `version: "2.4"\nservices:\n  sensor-reader:\n    environment:\n      VIGIL_SENSOR_READER_FAULT_TOKEN: "${token}"\n      VIGIL_SENSOR_READER_SIM_FAULTS: ""\n  mosquitto:\n    environment:\n      VIGIL_MQTT_REMOTE_USERNAME: ops\n      VIGIL_MQTT_REMOTE_PASSWORD: ops-secret\n`,
);
const limits = memoryLimits();

function memoryLimits(): Record<string, number> {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  return Object.fromEntries(
    text
      .split(/\n  (?=[a-z-]+:\n)/)
      .map((section) => [/^([a-z-]+):/.exec(section)?.[1], /\n    mem_limit: (\d+)m/.exec(section)?.[1]] as const)
      .filter((pair): pair is readonly [string, string] => pair[0] !== undefined && pair[1] !== undefined)
      .map(([name, mib]) => [name, Number(mib)]),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)] as T;

await ensureEngine();
await buildStandins('amd64', join(logs, 'standins.log'));
await stack.compose(['down', '-v', '--remove-orphans']).catch(() => undefined);
await runLogged('docker-compose', [...stack.composeArgs(), 'build'], join(logs, 'build.log'), 40 * 60_000);
await stack.compose(['up', '-d'], 300_000);
const services = (await stack.compose(['config', '--services'])).stdout.trim().split('\n');
await stack.waitAllHealthy(services, 'every container healthy');

// The operator's subscription: a remote user on the published TLS port, a persistent session.
const broker = await stack.containerId('mosquitto');
const ca = Buffer.from((await run('docker', ['exec', broker, 'cat', '/mosquitto/data/tls/server.crt'])).stdout);
console.log(`broker certificate ${new X509Certificate(ca).fingerprint256}`);
const listener = await waitFor('the operator subscribed', () => MqttListener.connect('mqtts://ops:ops-secret@127.0.0.1:8883', ['vigil/#'], 'ops-console', { ca }).catch(() => undefined), 30_000, 1000);

console.log('learning what normal looks like (about 8 minutes)');
await waitFor('the pump learned', async () => metricSum(await stack.serviceMetrics('adaptive-threshold').catch(() => []), 'vigil_asset_state', { asset: ASSET }) === 1 || undefined, 20 * 60_000, 5000);
const startedAt = Date.now();
const endsAt = startedAt + minutes * 60_000;

interface Fault {
  kind: string;
  at: number;
  alertedAfterS?: number;
}
const faults: Fault[] = [];
const actions: Array<{ at: number; action: string }> = [];
const peakMib: Record<string, number> = {};
let nextFaultAt = startedAt + 60_000;

async function injectFault(): Promise<void> {
  const kind = FAULT_KINDS[faults.length % FAULT_KINDS.length] as string;
  const reader = await stack.ipOf('sensor-reader');
  const response = await fetch(`http://${reader}:${OPS_PORT['sensor-reader']}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ kind, durationS: FAULT_S }),
  }).catch((error: Error) => ({ ok: false, status: 0, text: async () => error.message }));
  if (!response.ok) {
    console.log(`fault ${kind} not injected (${response.status} ${await response.text()}); trying again in 20 s`);
    nextFaultAt = Date.now() + 20_000;
    return;
  }
  faults.push({ kind, at: Date.now() });
  console.log(`${new Date().toISOString()} fault ${kind} for ${FAULT_S} s`);
  nextFaultAt = Date.now() + faultEveryMs;
}

/** One piece of trouble. An injected fault lives in the reader: it is not killed while one runs. */
async function trouble(): Promise<void> {
  const faultRunning = faults.some((fault) => Date.now() - fault.at < FAULT_S * 1000);
  const stages = STAGES.filter((stage) => !(faultRunning && stage === 'sensor-reader'));
  const kind = pick(['kill', 'kill', 'restart-broker', 'restart-redis', 'pause', 'partition'] as const);
  const stage = pick(stages);
  const id = await stack.containerId(stage);
  let action: string;
  switch (kind) {
    case 'kill':
      action = `kill -9 ${stage}`;
      await run('docker', ['kill', id]);
      break;
    case 'restart-broker':
      action = 'restart mosquitto';
      await run('docker', ['restart', '-t', '0', await stack.containerId('mosquitto')]);
      break;
    case 'restart-redis':
      action = 'restart redis';
      await run('docker', ['restart', '-t', '0', await stack.containerId('redis')]);
      break;
    case 'pause':
      action = `pause ${stage} 15 s`;
      await run('docker', ['pause', id]);
      await sleep(15_000);
      await run('docker', ['unpause', id]);
      break;
    case 'partition':
      action = `cut ${stage} off the network for 20 s`;
      await run('docker', ['network', 'disconnect', `${stack.project}_default`, id]);
      await sleep(20_000);
      await run('docker', ['network', 'connect', `${stack.project}_default`, id]);
      break;
  }
  actions.push({ at: Date.now(), action });
  console.log(`${new Date().toISOString()} ${action}`);
  // Whatever is down comes back, as the restart policy and the Pi's boot bring it.
  await stack.compose(['up', '-d'], 300_000);
}

async function sampleMemory(): Promise<void> {
  const { stdout } = await run('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}'], { allowFailure: true });
  for (const line of stdout.trim().split('\n')) {
    const [name = '', usage = ''] = line.split('\t');
    const [amount = '0', unit = 'MiB'] = /([\d.]+)\s*([KMG]i?B)/.exec(usage)?.slice(1) ?? [];
    const mib = Number(amount) * (({ KiB: 1 / 1024, MiB: 1, GiB: 1024, kB: 1 / 1000, MB: 1, GB: 1000 } as Record<string, number>)[unit] ?? 1);
    const service = name.replace(`${stack.project}_`, '').replace(/_\d+$/, '');
    if (services.includes(service)) peakMib[service] = Math.max(peakMib[service] ?? 0, mib);
  }
}

const memoryTimer = setInterval(() => void sampleMemory(), 30_000);
while (Date.now() < endsAt) {
  if (Date.now() >= nextFaultAt) await injectFault();
  await trouble().catch((error: Error) => console.log(`trouble failed: ${error.message.split('\n')[0] ?? ''}`));
  await sleep(20_000 + random.next() * 20_000);
}
clearInterval(memoryTimer);
await sampleMemory();
// Quiet, for the last alert to go out and the counters to be scraped.
await stack.waitAllHealthy(services, 'every container healthy at the end');
await sleep(60_000);

// What the operator got, against what the broker acknowledged (the publisher logs each PUBACK).
const received = listener.on(`/${ASSET}/alert`).map((message) => JSON.parse(message.payload) as { id: string; ts: number });
const receivedIds = new Set(received.map((alert) => alert.id));
const publisherLog = await run('docker', ['logs', await stack.containerId('alert-publisher')]);
const acknowledged = new Set(
  (publisherLog.stdout + publisherLog.stderr)
    .split('\n')
    .filter((line) => line.includes('"alert published"') && line.includes('"event":"raised"'))
    .map((line) => (JSON.parse(line) as { id: string }).id),
);
const lost = [...acknowledged].filter((id) => !receivedIds.has(id));
for (const fault of faults) {
  const first = received.find((alert) => alert.ts >= fault.at && alert.ts <= fault.at + (FAULT_S + 60) * 1000);
  if (first) fault.alertedAfterS = (first.ts - fault.at) / 1000;
}
const prometheus = await stack.ipOf('prometheus');
const query = async (promql: string) => {
  const body = (await (await fetch(`http://${prometheus}:9090/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  return Number(body.data.result[0]?.value[1] ?? Number.NaN);
};
const windowS = Math.ceil((Date.now() - startedAt) / 1000);
const readingsSent = await query(`sum(increase(vigil_messages_total{instance=~"sensor-reader.*",outcome="ok"}[${windowS}s]))`);
const readingsDecided = await query(`sum(increase(vigil_messages_total{instance=~"adaptive-threshold.*",outcome="ok"}[${windowS}s]))`);
const readingsCountedLost = await query(`sum(increase(vigil_seq_lost_total{instance=~"adaptive-threshold.*"}[${windowS}s]))`);
const inspect = await run('docker', ['inspect', '-f', '{{.Name}} {{.RestartCount}} {{.State.OOMKilled}}', ...(await stack.compose(['ps', '-q'])).stdout.trim().split('\n')]);
const oomKilled = inspect.stdout.split('\n').filter((line) => line.endsWith(' true')).map((line) => line.split(' ')[0]);

const result = {
  date: new Date().toISOString(),
  machine: machineDescription(),
  minutes,
  seed: Number(args.seed),
  actions: actions.length,
  troubleKinds: Object.fromEntries([...new Set(actions.map((a) => a.action.split(' ').slice(0, 2).join(' ')))].map((kind) => [kind, actions.filter((a) => a.action.startsWith(kind)).length])),
  faults,
  faultsAlerted: faults.filter((fault) => fault.alertedAfterS !== undefined).length,
  alertsAcknowledgedByBroker: acknowledged.size,
  alertsReceived: received.length,
  alertsLost: lost,
  alertRepeats: received.length - receivedIds.size,
  readings: { sent: readingsSent, decided: readingsDecided, countedLost: readingsCountedLost },
  peakMemoryMib: peakMib,
  memoryLimitMib: limits,
  oomKilled,
};
writeFileSync(resultsFile('chaos.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nchaos, ${minutes} min, seed ${result.seed}: ${actions.length} pieces of trouble (${machineDescription()})`);
console.log(
  table(
    ['what', 'measured'],
    [
      ['faults injected / alerted', `${faults.length} / ${result.faultsAlerted} (${faults.map((fault) => `${fault.kind} ${fault.alertedAfterS === undefined ? 'missed' : `${fault.alertedAfterS.toFixed(1)} s`}`).join(', ')})`],
      ['alerts acknowledged by the broker / received / lost / repeated', `${acknowledged.size} / ${received.length} / ${lost.length} / ${result.alertRepeats}`],
      ['readings sent / decided / counted lost', `${readingsSent.toFixed(0)} / ${readingsDecided.toFixed(0)} / ${readingsCountedLost.toFixed(0)}`],
      ...Object.entries(peakMib).map(([service, mib]) => [`${service} peak memory`, `${mib.toFixed(1)} of ${limits[service] ?? '?'} MiB`]),
      ['OOM kills', oomKilled.length === 0 ? 'none' : oomKilled.join(', ')],
    ],
  ),
);
await listener.close();
if (!args['keep-up']) await stack.compose(['down', '-v', '--remove-orphans'], 300_000);
process.exitCode = result.faultsAlerted === faults.length && lost.length === 0 ? 0 : 1;
