/**
 * npm run chaos [-- --minutes 30 --seed 1 --fault-every 6]   (root, Docker: as npm run test:compose)
 * The compose stack as shipped, for a set time, under random trouble: a stage SIGKILLed, the broker
 * or Redis restarted, a stage paused, a stage cut off the stack's network; while the simulated pump
 * gets a fault injected on a schedule (every --fault-every minutes, more than the alert cooldown,
 * kinds in turn, each once the pump has read normal for 250 s). An operator's persistent MQTT
 * session over TLS listens throughout. At the end:
 * every injected fault alerted or not, alerts the broker acknowledged against alerts the subscriber
 * got (lost, repeated), readings made against readings delivered or counted lost by seq (read from
 * the services every second, summed across their restarts), the most memory each container used
 * against its limit and OOM kills. Prints a table, writes bench/results/chaos.json, exits 1 if a
 * fault went unalerted, an alert was lost or a container was OOM-killed. The trouble itself is
 * test/compose/chaos.ts, which test:compose runs for a few minutes.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SeededRandom } from '@vigil/shared/runtime';
import { metricSum } from '../test/harness/metrics.js';
import { MqttListener } from '../test/harness/mqtt-listener.js';
import { waitFor } from '../test/harness/ports.js';
import { ChaosRun } from '../test/compose/chaos.js';
import { buildStandins, ensureEngine, logFolder, run, runLogged } from '../test/compose/docker.js';
import { ComposeStack, composeMemoryLimits } from '../test/compose/stack.js';
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
const ASSET = 'pump-1';

const logs = logFolder('chaos');
const token = randomBytes(12).toString('hex');
const stack = new ComposeStack(
  'vigilchaos',
  logs,
  `version: "2.4"\nservices:\n  sensor-reader:\n    environment:\n      VIGIL_SENSOR_READER_FAULT_TOKEN: "${token}"\n      VIGIL_SENSOR_READER_SIM_FAULTS: ""\n  mosquitto:\n    environment:\n      VIGIL_MQTT_REMOTE_USERNAME: ops\n      VIGIL_MQTT_REMOTE_PASSWORD: ops-secret\n`,
);
const limits = composeMemoryLimits();

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
// A fault is held back until the pump has read normal for 250 s: the last one's aftermath (a motor
// still cooling) would swallow it, and that measures the schedule, not the detection under trouble.
const chaos = new ChaosRun(stack, { services, asset: ASSET, faultToken: token, faultS: FAULT_S, random, faultWhenQuietS: 250 });
await chaos.start();
await chaos.runUntil(startedAt + minutes * 60_000, (previous) => (previous === undefined ? startedAt + 60_000 : previous + faultEveryMs));
// Quiet, for the last alert to go out and the counters to be read.
const report = await chaos.finish(listener, 120_000);
const { faults, readings } = report;

const result = { date: new Date().toISOString(), machine: machineDescription(), minutes, seed: Number(args.seed), ...report, memoryLimitMib: limits };
writeFileSync(resultsFile('chaos.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nchaos, ${minutes} min, seed ${result.seed}: ${report.actions} pieces of trouble (${machineDescription()})`);
console.log(
  table(
    ['what', 'measured'],
    [
      ['faults injected / alerted', `${faults.length} / ${report.faultsAlerted} (${faults.map((fault) => `${fault.kind} ${fault.alertedAfterS === undefined ? 'missed' : `${fault.alertedAfterS.toFixed(1)} s`}`).join(', ')})`],
      ['alerts acknowledged by the broker / received / lost / repeated', `${report.alertsAcknowledgedByBroker} / ${report.alertsReceived} / ${report.alertsLost.length} / ${report.alertRepeats}`],
      ['readings made / shed at the reader', `${readings.made} / ${readings.shedAtReader}`],
      ['readings delivered / counted lost / unaccounted', `${readings.delivered} / ${readings.countedLost} / ${readings.unaccounted}`],
      ...Object.entries(report.perStage).map(([stage, counts]) => [`${stage}: passed on / rejected / seq lost / restarts`, `${counts.ok} / ${counts.rejected} / ${counts.seqLost} / ${report.restarts[stage] ?? 0}`]),
      ...Object.entries(report.peakMemoryMib).map(([service, mib]) => [`${service} peak memory`, `${mib.toFixed(1)} of ${limits[service] ?? '?'} MiB`]),
      ['OOM kills', report.oomKilled.length === 0 ? 'none' : report.oomKilled.join(', ')],
    ],
  ),
);
await listener.close();
if (!args['keep-up']) await stack.compose(['down', '-v', '--remove-orphans'], 300_000);
process.exitCode = report.faultsAlerted === faults.length && report.alertsLost.length === 0 && report.oomKilled.length === 0 ? 0 : 1;
