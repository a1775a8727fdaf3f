/**
 * What the stack writes to its storage in a day, for an SD card's life: the five services, Redis
 * (snapshots as docker-compose.yml sets them, 60 s when something changed), mosquitto (persistent),
 * and Prometheus (the compose file's flags, every service scraped at the shipped interval), run as processes for
 * a set time at the default 10 Hz with the simulator's fault schedule, then extrapolated to a day.
 *   npm run bench:disk [-- --seconds 600]
 * Bytes are each process's `write_bytes` (/proc/<pid>/io: what it sent to the block device,
 * page-cache writes included); logs are what the process wrote to stdout and stderr, which the
 * container engine's log driver writes in turn.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PIPELINE_ORDER, startPipeline } from '../test/harness/pipeline.js';
import { freePort, waitFor } from '../test/harness/ports.js';
import { startProcess, type ManagedProcess } from '../test/harness/processes.js';
import { machineDescription, resultsFile, SHIPPED_SCRAPE_INTERVAL, table } from './stats.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '600' }, warmup: { type: 'string', default: '30' } } });
const seconds = Number(args.seconds);
const warmupSeconds = Number(args.warmup);
const TARGET_MB_PER_DAY = 150;

function writeBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/io`, 'utf8').split('\n').find((entry) => entry.startsWith('write_bytes:'));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

const stack = await startPipeline({ deviceId: 'bench', readerEnv: { VIGIL_SENSOR_READER_RATE_HZ: '10', VIGIL_SENSOR_READER_SIM_SPEED: '1' }, redisDir: mkdtempSync(join(tmpdir(), 'vigil-bench-redis-')), persistentBroker: true });
const promPort = await freePort();
const promDir = mkdtempSync(join(tmpdir(), 'vigil-bench-prometheus-'));
const targets = PIPELINE_ORDER.map((name) => `127.0.0.1:${stack.ports.metrics[name]}`);
writeFileSync(
  join(promDir, 'prometheus.yml'),
  [
    `global: { scrape_interval: ${SHIPPED_SCRAPE_INTERVAL}, scrape_timeout: 4s, evaluation_interval: ${SHIPPED_SCRAPE_INTERVAL} }`,
    'scrape_configs:',
    '  - job_name: vigil',
    `    static_configs: [{ targets: [${targets.map((target) => `"${target}"`).join(', ')}] }]`,
    '  - job_name: prometheus',
    `    static_configs: [{ targets: ["127.0.0.1:${promPort}"] }]`,
    '',
  ].join('\n'),
);
// The flags of prometheus/entrypoint.sh.
const prometheus = startProcess('prometheus', 'prometheus', [
  `--config.file=${join(promDir, 'prometheus.yml')}`,
  `--storage.tsdb.path=${join(promDir, 'data')}`,
  '--storage.tsdb.retention.time=7d',
  '--storage.tsdb.retention.size=512MB',
  '--storage.tsdb.wal-compression',
  `--web.listen-address=127.0.0.1:${promPort}`,
]);
await waitFor('prometheus ready', async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined))?.ok || undefined, 30_000);

const processes = new Map<string, ManagedProcess>([...[...stack.services].map(([name, process]) => [name, process] as const), ['redis', stack.redis.process], ['mosquitto', stack.broker.process], ['prometheus', prometheus]]);
await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
const before = new Map([...processes].map(([name, process]) => [name, { bytes: writeBytes(process.child.pid as number), logs: process.text().length }]));
const started = Date.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const elapsed = (Date.now() - started) / 1000;
const perDay = 86_400 / elapsed;
const rows: Array<Array<string | number>> = [];
const result: Record<string, { writtenMbPerDay: number; logsMbPerDay: number }> = {};
let total = 0;
for (const [name, process] of processes) {
  const start = before.get(name) ?? { bytes: 0, logs: 0 };
  const written = (writeBytes(process.child.pid as number) - start.bytes) * perDay;
  const logs = (process.text().length - start.logs) * perDay;
  result[name] = { writtenMbPerDay: written / 1e6, logsMbPerDay: logs / 1e6 };
  total += written + logs;
  rows.push([name, written / 1e6, logs / 1e6, (written + logs) / 1e6]);
}
rows.push(['total', '', '', total / 1e6]);
console.log(`\nWritten to storage, extrapolated to a day from ${elapsed.toFixed(0)} s at 10 Hz after a ${warmupSeconds} s warm-up (${machineDescription()}); target ${TARGET_MB_PER_DAY} MB/day:\n`);
console.log(table(['process', 'written MB/day', 'logs MB/day', 'both MB/day'], rows));
prometheus.child.kill('SIGTERM');
await prometheus.stop();
await stack.stop();
writeFileSync(resultsFile('disk-writes.json'), `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), seconds: elapsed, rateHz: 10, totalMbPerDay: total / 1e6, targetMbPerDay: TARGET_MB_PER_DAY, processes: result }, null, 2)}\n`);
process.exit(0);
