/**
 * npm run bench:assets [-- --assets 1,10,50,100 --seconds 60]
 * Several machines on one device, at scale: N assets, each with the pump's eight channels at
 * 10 Hz, each with its own model (a bundle in its own folder, named in an assets file) and its own
 * threshold state. Readings come in over MQTT as from a gateway (the bench's publisher is not
 * counted). For each N: CPU of the five services (utime + stime from /proc) over the window, their
 * PSS at its end, the end-to-end p99 (reader stamp → alert-publisher done, over the window only)
 * and what was lost. Prometheus's scrape is played at the shipped interval. Prints a table and
 * writes bench/results/assets.json.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectAsync } from 'mqtt';
import { PUMP_CHANNEL_NAMES } from '@vigil/shared/features';
import { PumpSimulator } from '../services/sensor-reader/src/pump-simulator.js';
import { metricSum, scrape, type MetricSample } from '../test/harness/metrics.js';
import { defaultTestBundle } from '../test/harness/model-fixture.js';
import { PIPELINE_ORDER, startPipeline } from '../test/harness/pipeline.js';
import { waitFor } from '../test/harness/ports.js';
import { costOf, cpuSecondsBetween, type ProcessCost } from './process-cpu.js';
import { processMemory } from './process-memory.js';
import { histogramQuantile, machineDescription, resultsFile, SHIPPED_SCRAPE_INTERVAL_MS, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    assets: { type: 'string', default: '1,10,50,100' },
    seconds: { type: 'string', default: '60' },
    settle: { type: 'string', default: '20' },
  },
});
const counts = (args.assets ?? '').split(',').map(Number);
const seconds = Number(args.seconds);
const settleS = Number(args.settle);
const RATE_HZ = 10;
/** Readings the scaler learns from per asset before it scores: short, so each N starts scoring within seconds. */
const SCALER_WARMUP = 100;

/** The histogram over the window only: the end's buckets less the start's. */
function histogramDelta(start: MetricSample[], end: MetricSample[], name: string): MetricSample[] {
  const key = (sample: MetricSample) => `${sample.name}${JSON.stringify(sample.labels)}`;
  const before = new Map(start.filter((sample) => sample.name.startsWith(name)).map((sample) => [key(sample), sample.value]));
  return end.filter((sample) => sample.name.startsWith(name)).map((sample) => ({ ...sample, value: sample.value - (before.get(key(sample)) ?? 0) }));
}

interface Result {
  assets: number;
  readingsPerS: number;
  cpuPercent: Record<string, number>;
  cpuTotalPercent: number;
  pssMb: Record<string, number>;
  pssTotalMb: number;
  p99Ms: number;
  decided: number;
  lost: number;
  refused: number;
}

const results: Result[] = [];
const bundle = await defaultTestBundle();
for (const n of counts) {
  const names = Array.from({ length: n }, (_, index) => `machine-${String(index + 1).padStart(3, '0')}`);
  const models = mkdtempSync(join(tmpdir(), 'vigil-bench-assets-'));
  // Each asset its own copy of the bundle, loaded on its own: the memory of N models, as on a device.
  for (const name of names) cpSync(bundle, join(models, name, 'current'), { recursive: true });
  const assets = Object.fromEntries(names.map((name) => [name, { channels: [...PUMP_CHANNEL_NAMES], scalerWarmup: SCALER_WARMUP }]));
  const maxAssets = String(n + 1);
  const pipeline = await startPipeline({
    deviceId: 'bench-assets',
    everyServiceEnv: {
      VIGIL_ASSETS: JSON.stringify(assets),
      VIGIL_INFERENCE_MODEL_PATH: join(models, 'current'),
      VIGIL_SENSOR_READER_MAX_ASSETS: maxAssets,
      VIGIL_PREPROCESSOR_MAX_ASSETS: maxAssets,
      VIGIL_ADAPTIVE_THRESHOLD_MAX_ASSETS: maxAssets,
    },
    readerEnv: { VIGIL_SENSOR_READER_SOURCE: 'mqtt', VIGIL_SENSOR_READER_ASSET: names[0] ?? 'machine-001', VIGIL_SENSOR_READER_MQTT_TOPICS: 'sensors/#' },
  });
  const gateway = await connectAsync(pipeline.broker.url, { clientId: 'bench-gateway' });
  const simulators = names.map((_, index) => new PumpSimulator({ seed: 100 + index, rateHz: RATE_HZ }));
  // Every 100 ms a reading of every asset, as N machines sampled at 10 Hz; spread over the tick.
  const tick = setInterval(() => {
    const now = Date.now();
    names.forEach((name, index) => {
      gateway.publish(`sensors/gateway/${name}`, JSON.stringify({ ts: now, channels: (simulators[index] as PumpSimulator).next() }), { qos: 0 });
    });
  }, 1000 / RATE_HZ);
  try {
    const publisherPort = pipeline.ports.metrics['alert-publisher'];
    await waitFor('every asset scoring', async () => metricSum(await scrape(publisherPort), 'vigil_messages_total', { outcome: 'ok' }) >= n * (SCALER_WARMUP + 20) || undefined, 120_000, 500);
    await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
    const pids = new Map(PIPELINE_ORDER.map((name) => [name, pipeline.services.get(name)?.child.pid as number]));
    const cpuBefore = new Map([...pids].map(([name, pid]) => [name, costOf(pid)]));
    const metricsBefore = new Map(await Promise.all(PIPELINE_ORDER.map(async (name) => [name, await scrape(pipeline.ports.metrics[name])] as const)));
    const started = Date.now();
    const scraper = setInterval(() => {
      for (const name of PIPELINE_ORDER) void scrape(pipeline.ports.metrics[name]).catch(() => undefined);
    }, SHIPPED_SCRAPE_INTERVAL_MS);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    clearInterval(scraper);
    const elapsedS = (Date.now() - started) / 1000;
    const metricsAfter = new Map(await Promise.all(PIPELINE_ORDER.map(async (name) => [name, await scrape(pipeline.ports.metrics[name])] as const)));
    const cpuPercent = Object.fromEntries([...pids].map(([name, pid]) => [name, (cpuSecondsBetween(cpuBefore.get(name) as ProcessCost, costOf(pid)) / elapsedS) * 100]));
    const pssMb = Object.fromEntries([...pids].map(([name, pid]) => [name, processMemory(pid).pssMb]));
    const delta = (name: (typeof PIPELINE_ORDER)[number], metric: string, labels: Record<string, string> = {}) =>
      metricSum(metricsAfter.get(name) ?? [], metric, labels) - metricSum(metricsBefore.get(name) ?? [], metric, labels);
    const latency = histogramDelta(metricsBefore.get('alert-publisher') ?? [], metricsAfter.get('alert-publisher') ?? [], 'vigil_stage_latency_seconds');
    results.push({
      assets: n,
      readingsPerS: n * PUMP_CHANNEL_NAMES.length * RATE_HZ,
      cpuPercent,
      cpuTotalPercent: Object.values(cpuPercent).reduce((sum, value) => sum + value, 0),
      pssMb,
      pssTotalMb: Object.values(pssMb).reduce((sum, value) => sum + value, 0),
      p99Ms: histogramQuantile(latency, 'vigil_stage_latency_seconds', { stage: 'alert-publisher' }, 0.99) * 1000,
      decided: delta('alert-publisher', 'vigil_messages_total', { outcome: 'ok' }),
      lost: PIPELINE_ORDER.reduce((sum, name) => sum + delta(name, 'vigil_seq_lost_total'), 0),
      refused: PIPELINE_ORDER.reduce((sum, name) => sum + delta(name, 'vigil_messages_total', { outcome: 'rejected' }), 0),
    });
  } finally {
    clearInterval(tick);
    await gateway.endAsync(true);
    await pipeline.stop();
  }
}

console.log(`N assets x 8 channels at ${RATE_HZ} Hz over MQTT, each its own model; ${seconds} s per row, scraped every ${SHIPPED_SCRAPE_INTERVAL_MS / 1000} s (${machineDescription()})`);
console.log(
  table(
    ['assets', 'readings/s', ...PIPELINE_ORDER.map((name) => `${name} CPU %`), 'all five CPU %', 'PSS of the five MB', 'end-to-end p99 ms', 'decided', 'lost', 'refused'],
    results.map((row) => [
      row.assets,
      row.readingsPerS,
      ...PIPELINE_ORDER.map((name) => (row.cpuPercent[name] ?? 0).toFixed(2)),
      row.cpuTotalPercent.toFixed(2),
      row.pssTotalMb.toFixed(1),
      row.p99Ms.toFixed(2),
      row.decided,
      row.lost,
      row.refused,
    ]),
  ),
);
writeFileSync(resultsFile('assets.json'), `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), seconds, rateHz: RATE_HZ, results }, null, 2)}\n`);
