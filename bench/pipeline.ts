/**
 * Benchmarks of the whole pipeline: five services as separate processes, a real Redis, a real
 * mosquitto and real ZeroMQ sockets, started on free ports and stopped after.
 *   npm run bench:pipeline [-- --samples 200000 --seconds 30]   throughput (0 loss), then latency at 100 Hz
 *   npm run bench:memory [-- --seconds 60]                       steady-state RSS after traffic
 *   npm run bench:startup [-- --runs 5]                          process start to /healthz OK
 *   npm run soak [-- --samples 1000000]                          1 kHz, warm-up, then N samples: RSS growth, lag, loss
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { healthz, metricSum, scrape, type MetricSample } from '../test/harness/metrics.js';
import { OPCUA_USER, PlcServer } from '../test/harness/opcua-server.js';
import { PIPELINE_ORDER, startHealthy, startPipeline, type RunningPipeline } from '../test/harness/pipeline.js';
import { freePort, waitFor } from '../test/harness/ports.js';
import { startService, type ManagedProcess, type ServiceName } from '../test/harness/processes.js';
import { processMemory, type ProcessMemory } from './process-memory.js';
import { histogramQuantile, machineDescription, median, resultsFile, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'pipeline' },
    samples: { type: 'string' },
    seconds: { type: 'string' },
    runs: { type: 'string', default: '5' },
  },
});

function startStack(readerEnv: Record<string, string>, startReader = true): Promise<RunningPipeline> {
  return startPipeline({ deviceId: 'bench', readerEnv, startReader });
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  return processMemory(pid).rssMb;
}

function save(name: string, result: unknown): void {
  writeFileSync(resultsFile(`${name}.json`), `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), ...(result as object) }, null, 2)}\n`);
}

async function throughput(samples: number): Promise<void> {
  const stack = await startStack({}, false);
  const cpuBefore = new Map([...stack.services].map(([name, service]) => [name, cpuSeconds(service.child.pid as number)]));
  const reader = startService('sensor-reader', {
    ...stack.env['sensor-reader'],
    VIGIL_SENSOR_READER_SIM_SPEED: '1000000',
    VIGIL_SENSOR_READER_SIM_FAULTS: '',
    VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(samples),
    VIGIL_SENSOR_READER_OUTPUT_WHEN_FULL: 'block',
  });
  stack.services.set('sensor-reader', reader);
  const started = Date.now();
  await waitFor(
    'every sample at the publisher',
    async () => metricSum(await scrape(stack.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' }) >= samples || undefined,
    600_000,
    100,
  );
  const seconds = (Date.now() - started) / 1000;
  const rows: Array<Array<string | number>> = [];
  let lost = 0;
  for (const name of PIPELINE_ORDER) {
    const metrics = await scrape(stack.ports.metrics[name]);
    const pid = stack.services.get(name)?.child.pid as number;
    const cpu = cpuSeconds(pid) - (cpuBefore.get(name) ?? 0);
    const stageLost = metricSum(metrics, 'vigil_seq_lost_total') + metricSum(metrics, 'vigil_messages_total', { outcome: 'dropped' });
    lost += stageLost;
    rows.push([name, metricSum(metrics, 'vigil_messages_total', { outcome: 'ok' }), stageLost, (100 * cpu) / seconds, rssMb(pid)]);
  }
  const rate = samples / seconds;
  console.log(`\nThroughput: ${samples} samples through all five stages in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} samples/s end to end, ${lost} lost (${machineDescription()}):\n`);
  console.log(table(['service', 'messages ok', 'lost or dropped', 'CPU % of one core', 'RSS MB'], rows));
  await stack.stop();
  save('pipeline-throughput', { samples, seconds, samplesPerSecond: rate, lost, stages: rows });
}

async function latency(seconds: number): Promise<void> {
  const stack = await startStack({
    VIGIL_SENSOR_READER_RATE_HZ: '100',
    VIGIL_SENSOR_READER_SIM_SPEED: '1',
    VIGIL_SENSOR_READER_SIM_FAULTS: '',
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const rows: Array<Array<string | number>> = [];
  const result: Record<string, { p50Ms: number; p99Ms: number }> = {};
  for (const name of PIPELINE_ORDER.slice(1)) {
    const metrics = await scrape(stack.ports.metrics[name]);
    const p50 = histogramQuantile(metrics, 'vigil_stage_latency_seconds', { stage: name }, 0.5) * 1000;
    const p99 = histogramQuantile(metrics, 'vigil_stage_latency_seconds', { stage: name }, 0.99) * 1000;
    result[name] = { p50Ms: p50, p99Ms: p99 };
    rows.push([name, metricSum(metrics, 'vigil_messages_total', { outcome: 'ok' }), p50, p99]);
  }
  console.log(`\nLatency at 100 Hz for ${seconds} s, from the reader sending a reading to each stage finishing it (${machineDescription()}):\n`);
  console.log(table(['stage', 'messages', 'p50 ms', 'p99 ms'], rows));
  await stack.stop();
  save('pipeline-latency', { rateHz: 100, seconds, stages: result });
}

async function memory(seconds: number): Promise<void> {
  const stack = await startStack({ VIGIL_SENSOR_READER_RATE_HZ: '100', VIGIL_SENSOR_READER_SIM_SPEED: '1' });
  const start = new Map([...stack.services].map(([name, service]) => [name, rssMb(service.child.pid as number)]));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const rows: Array<Array<string | number>> = [];
  const ends: Array<[ServiceName, ProcessMemory]> = PIPELINE_ORDER.map((name) => [name, processMemory(stack.services.get(name)?.child.pid as number)]);
  for (const [name, end] of ends) rows.push([name, start.get(name) ?? 0, end.rssMb, end.privateMb, end.sharedFileMb, end.pssMb]);
  const sum = (pick: (memory: ProcessMemory) => number) => ends.reduce((total, [, end]) => total + pick(end), 0);
  const totals = { rssMb: sum((m) => m.rssMb), privateMb: sum((m) => m.privateMb), sharedFileMb: sum((m) => m.sharedFileMb), pssMb: sum((m) => m.pssMb) };
  rows.push(['total', [...start.values()].reduce((total, value) => total + value, 0), totals.rssMb, totals.privateMb, totals.sharedFileMb, totals.pssMb]);
  console.log(`\nMemory after ${seconds} s of traffic at 100 Hz (${machineDescription()}). RSS counts the Node executable's pages in every`);
  console.log('process although the kernel holds them once; private is what each process alone holds; PSS shares the common pages out,');
  console.log('so the PSS total is what the five really take:\n');
  console.log(table(['service', 'RSS at start MB', `RSS after ${seconds} s MB`, 'private MB', 'shared file pages MB', 'PSS MB'], rows));
  const integrations = await integrationMemory(stack, seconds);
  await stack.stop();
  save('memory', { seconds, rateHz: 100, services: Object.fromEntries(ends), totals, integrations });
}

/**
 * What an integration costs when it is configured: a reader on OPC UA (a node-opcua server in
 * this process) beside one on the simulator, both at 10 Hz, and a publisher with Sparkplug B, a
 * web hook and Home Assistant discovery beside one with none, both idle. Same stack, same time.
 */
async function integrationMemory(stack: RunningPipeline, seconds: number): Promise<Record<string, ProcessMemory>> {
  const folder = mkdtempSync(join(tmpdir(), 'vigil-bench-integrations-'));
  const plc = new PlcServer(await freePort(), join(folder, 'server-pki'));
  await plc.start();
  const hook = createServer((_request, response) => response.writeHead(204).end());
  const hookPort = await freePort();
  await new Promise<void>((resolve) => hook.listen(hookPort, '127.0.0.1', resolve));
  const reader = async (asset: string, env: Record<string, string>) => {
    const port = await freePort();
    return startHealthy('sensor-reader', { ...stack.env['sensor-reader'], VIGIL_SENSOR_READER_METRICS_PORT: String(port), VIGIL_SENSOR_READER_ASSET: asset, VIGIL_SENSOR_READER_RATE_HZ: '10', ...env }, port);
  };
  const publisher = async (env: Record<string, string>) => {
    const port = await freePort();
    return startHealthy(
      'alert-publisher',
      {
        ...stack.env['alert-publisher'],
        VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(port),
        VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${await freePort()}`,
        VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(folder, 'outbox-')), 'outbox.jsonl'),
        VIGIL_DEVICE_ID: `bench-${port}`,
        ...env,
      },
      port,
    );
  };
  const processes = new Map<string, ManagedProcess>([
    ['reader, simulator at 10 Hz', await reader('sim-10', { VIGIL_SENSOR_READER_SIM_SPEED: '1' })],
    [
      'reader, OPC UA at 10 Hz',
      await reader('opc-1', {
        VIGIL_SENSOR_READER_SOURCE: 'opcua',
        VIGIL_SENSOR_READER_OPCUA_ENDPOINT: plc.endpoint,
        VIGIL_SENSOR_READER_OPCUA_USERNAME: OPCUA_USER.name,
        VIGIL_SENSOR_READER_OPCUA_PASSWORD: OPCUA_USER.password,
        VIGIL_SENSOR_READER_OPCUA_NODES: JSON.stringify({ pressure: 'ns=1;s=Pump1.Pressure', temperature: 'ns=1;s=Pump1.Temperature' }),
        VIGIL_SENSOR_READER_OPCUA_PKI_DIR: join(folder, 'client-pki'),
      }),
    ],
    ['publisher, MQTT only', await publisher({ VIGIL_HA_DISCOVERY: 'false' })],
    ['publisher, + Sparkplug B, web hook, HA discovery', await publisher({ VIGIL_SPARKPLUG: 'true', VIGIL_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/` })],
  ]);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const measured = Object.fromEntries([...processes].map(([name, process]) => [name, processMemory(process.child.pid as number)]));
  const rows = Object.entries(measured).map(([name, memory]) => [name, memory.rssMb, memory.privateMb, memory.pssMb]);
  console.log(`\nWhat an integration adds when it is configured, after ${seconds} s (each beside the same service without it):\n`);
  console.log(table(['process', 'RSS MB', 'private MB', 'PSS MB'], rows));
  for (const process of processes.values()) await process.stop();
  hook.close();
  await plc.stop();
  return measured;
}

async function startup(runs: number): Promise<void> {
  const stack = await startStack({}, false);
  for (const service of stack.services.values()) await service.stop();
  const timings = new Map<ServiceName, number[]>();
  for (let run = 0; run < runs; run += 1) {
    for (const name of [...PIPELINE_ORDER].reverse()) {
      const started = performance.now();
      const service = startService(name, { ...stack.env[name], VIGIL_SENSOR_READER_SIM_FAULTS: '' });
      await waitFor(`${name} healthy`, async () => (await healthz(stack.ports.metrics[name]).catch(() => ({ status: 0 }))).status === 200 || undefined, 20_000, 5);
      timings.set(name, [...(timings.get(name) ?? []), performance.now() - started]);
      await service.stop();
    }
  }
  const rows = PIPELINE_ORDER.map((name) => [name, median(timings.get(name) ?? []), Math.max(...(timings.get(name) ?? []))]);
  console.log(`\nStart-up: process start to /healthz 200, ${runs} runs each (${machineDescription()}):\n`);
  console.log(table(['service', 'median ms', 'max ms'], rows));
  await stack.stop();
  save('startup', { runs, services: Object.fromEntries(timings) });
}

/** Full (mark-compact) collections a service has run, from its own GC histogram. */
function majorGcs(metrics: MetricSample[]): number {
  return metricSum(metrics, 'nodejs_gc_duration_seconds_count', { kind: 'major' });
}

/** The V8 heap that survived the last full GC, in MB: what a leak makes climb. */
function liveHeapMb(metrics: MetricSample[]): number {
  return metricSum(metrics, 'vigil_heap_live_bytes') / 1048576;
}

/** Full collections under traffic before the soak's clock starts (see the warm-up below). */
const WARMUP_FULL_GCS = 2;

async function soak(samples: number): Promise<void> {
  const rateHz = 1000;
  const maxWarmupMs = Math.min(30 * 60_000, (samples / rateHz) * 1000);
  const stack = await startStack({
    VIGIL_SENSOR_READER_RATE_HZ: String(rateHz),
    VIGIL_SENSOR_READER_SIM_SPEED: '1',
    // No sample limit: how many the warm-up takes is not known in advance (and the reader starts
    // before the clock here does); the stack is stopped once `samples` more have passed.
    VIGIL_SENSOR_READER_SIM_FAULTS: 'bearing-wear@300+60,leak@700+30',
    VIGIL_SENSOR_READER_SIM_REPEAT_S: '1000',
  });
  const pids = new Map([...stack.services].map(([name, service]) => [name, service.child.pid as number]));
  const started = Date.now();
  // Warm-up: a minute (queues, JIT caches), then until every service has run two full GCs under
  // traffic. RSS follows V8's sawtooth: the old generation grows to about twice what survives,
  // a full GC collects it, and the pages it freed stay committed for reuse. Only after a second
  // full GC has the heap gone once around that cycle at its working size; from there a healthy
  // service's RSS is flat. Measured with --trace-gc at 1 kHz: the live heap after each full GC
  // stayed within 0.2 MB for 16 minutes in every service, while the publisher's committed heap
  // rose from 21.6 to 25.9 MB between its first and second full GC (12 minutes apart) — a soak
  // that starts measuring at the first saw that as 6-12 % "growth". The full GCs of the first
  // minute do not count: V8's memory reducer runs one or two about 16 s after start, while idle.
  const firstMinute = Math.min(60_000, maxWarmupMs);
  await new Promise((resolve) => setTimeout(resolve, firstMinute));
  const gcsAfterMinute = new Map<ServiceName, number>();
  for (const name of PIPELINE_ORDER) gcsAfterMinute.set(name, majorGcs(await scrape(stack.ports.metrics[name])));
  const warmed = new Set<ServiceName>();
  await waitFor(
    'warm-up',
    async () => {
      for (const name of PIPELINE_ORDER) {
        const gcs = majorGcs(await scrape(stack.ports.metrics[name])) - (gcsAfterMinute.get(name) ?? 0);
        if (gcs >= WARMUP_FULL_GCS) warmed.add(name);
      }
      return warmed.size === PIPELINE_ORDER.length || Date.now() - started >= maxWarmupMs || undefined;
    },
    maxWarmupMs + 60_000,
    5_000,
  );
  const warmupSeconds = (Date.now() - started) / 1000;
  const okAtWarmup = metricSum(await scrape(stack.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' });
  const atWarmup = new Map<ServiceName, { gcs: number; liveHeapMb: number }>();
  for (const name of PIPELINE_ORDER) {
    const metrics = await scrape(stack.ports.metrics[name]);
    atWarmup.set(name, { gcs: majorGcs(metrics), liveHeapMb: liveHeapMb(metrics) });
  }
  const afterWarmup = new Map([...pids].map(([name, pid]) => [name, processMemory(pid)]));
  // RSS every 5 s: the peaks of the first and second half of the run compare like with like. A
  // single sample at each end lands anywhere on the GC sawtooth (±10 % in runs with a flat live
  // heap); the highest point of a half that holds a whole GC cycle does not depend on that phase.
  const measureStart = Date.now();
  const rssTrace = new Map([...afterWarmup].map(([name, memory]) => [name, [{ at: measureStart, rssMb: memory.rssMb }]]));
  await waitFor(
    `${samples} samples at the publisher after the warm-up`,
    async () => {
      for (const [name, pid] of pids) rssTrace.get(name)?.push({ at: Date.now(), rssMb: processMemory(pid).rssMb });
      const publisherOk = metricSum(await scrape(stack.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' });
      return publisherOk >= okAtWarmup + samples || undefined;
    },
    (samples / rateHz) * 3000 + 120_000,
    5_000,
  );
  const seconds = (Date.now() - started) / 1000;
  const midpoint = (measureStart + Date.now()) / 2;
  const peakOf = (name: ServiceName, half: 'first' | 'second') =>
    Math.max(...(rssTrace.get(name) ?? []).filter((point) => (half === 'first' ? point.at < midpoint : point.at >= midpoint)).map((point) => point.rssMb));
  const rows: Array<Array<string | number>> = [];
  let lost = 0;
  const growth = (from: number, to: number) => (from > 0 ? (100 * (to - from)) / from : 0);
  for (const name of PIPELINE_ORDER) {
    const metrics = await scrape(stack.ports.metrics[name]);
    const end = processMemory(pids.get(name) as number);
    const warm = afterWarmup.get(name) ?? end;
    const warmHeap = atWarmup.get(name)?.liveHeapMb ?? 0;
    const endHeap = liveHeapMb(metrics);
    const firstPeak = peakOf(name, 'first');
    const secondPeak = peakOf(name, 'second');
    const stageLost = metricSum(metrics, 'vigil_seq_lost_total') + metricSum(metrics, 'vigil_messages_total', { outcome: 'dropped' });
    lost += stageLost;
    rows.push([
      name,
      metricSum(metrics, 'vigil_messages_total', { outcome: 'ok' }),
      stageLost,
      warm.rssMb,
      end.rssMb,
      growth(warm.rssMb, end.rssMb),
      firstPeak,
      secondPeak,
      growth(firstPeak, secondPeak),
      warm.privateMb,
      end.privateMb,
      warmHeap,
      endHeap,
      growth(warmHeap, endHeap),
      majorGcs(metrics) - (atWarmup.get(name)?.gcs ?? 0),
      metricSum(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    ]);
  }
  const alerts = metricSum(await scrape(stack.ports.metrics['alert-publisher']), 'vigil_alerts_published_total');
  const unwarmed = PIPELINE_ORDER.filter((name) => !warmed.has(name));
  console.log(
    `\nSoak: warm-up ${warmupSeconds.toFixed(0)} s (${unwarmed.length === 0 ? `every service ran ${WARMUP_FULL_GCS} full GCs` : `fewer than ${WARMUP_FULL_GCS} full GCs in ${unwarmed.join(', ')}`}), ` +
      `then ${samples} samples at ${rateHz} Hz; ${seconds.toFixed(0)} s in all, ${lost} lost, ${alerts} alerts published (${machineDescription()}):\n`,
  );
  console.log(
    table(
      ['service', 'messages ok', 'lost', 'RSS warm MB', 'RSS end MB', 'RSS growth %', 'RSS peak 1st half MB', 'RSS peak 2nd half MB', 'RSS peak growth %', 'private warm MB', 'private end MB', 'live heap warm MB', 'live heap end MB', 'live heap growth %', 'full GCs after warm-up', 'event-loop lag p99 ms'],
      rows,
    ),
  );
  console.log('\nlive heap: V8 heap in use right after the last full GC (vigil_heap_live_bytes); a leak grows it.');
  console.log('RSS peak: the highest RSS (sampled every 5 s) in each half of the run after the warm-up; unlike warm → end, it does not depend on where in its GC cycle each sample fell.');
  await stack.stop();
  save('soak', { samples, rateHz, warmupSeconds, unwarmed, seconds, lost, alerts, services: rows });
}

switch (args.mode) {
  case 'pipeline':
    await throughput(Number(args.samples ?? 200_000));
    await latency(Number(args.seconds ?? 30));
    break;
  case 'memory':
    await memory(Number(args.seconds ?? 60));
    break;
  case 'startup':
    await startup(Number(args.runs));
    break;
  case 'soak':
    await soak(Number(args.samples ?? 1_000_000));
    break;
  default:
    throw new Error(`unknown mode ${args.mode}`);
}
process.exit(0);
