/**
 * npm run bench:rate [-- --rates 0,1,10,100 --seconds 60 --runs 3]
 * What the five services cost at the rate a device really runs, not at peak: CPU time of each
 * process (utime + stime from /proc/<pid>/stat) and its context switches (a proxy for wake-ups,
 * from /proc/<pid>/status) over a window, at each sample rate; rate 0 is no traffic at all (the
 * reader not started). Prometheus's scrape is played at its real interval (the shipped one, /metrics of
 * each service), as on the device. Prints a table (medians of the runs) and writes
 * bench/results/rate.json.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { scrape } from '../test/harness/metrics.js';
import { PIPELINE_ORDER, startHealthy, startPipeline, type RunningPipeline } from '../test/harness/pipeline.js';
import type { ServiceName } from '../test/harness/processes.js';
import { costOf, type ProcessCost } from './process-cpu.js';
import { machineDescription, median, resultsFile, SHIPPED_SCRAPE_INTERVAL_MS, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '0,1,10,100' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '10' },
  },
});
const rates = (args.rates ?? '').split(',').map(Number);
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const settleS = Number(args.settle);
// As the device's Prometheus scrapes: part of what a service costs at rest.
const SCRAPE_INTERVAL_MS = SHIPPED_SCRAPE_INTERVAL_MS;

async function measure(pipeline: RunningPipeline, names: ServiceName[]): Promise<Record<string, { cpuPercent: number; switchesPerS: number }>> {
  const pids = new Map(names.map((name) => [name, pipeline.services.get(name)?.child.pid as number]));
  const before = new Map([...pids].map(([name, pid]) => [name, costOf(pid)]));
  const started = Date.now();
  const scraper = setInterval(() => {
    for (const name of names) void scrape(pipeline.ports.metrics[name]).catch(() => undefined);
  }, SCRAPE_INTERVAL_MS);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(scraper);
  const elapsedS = (Date.now() - started) / 1000;
  const result: Record<string, { cpuPercent: number; switchesPerS: number }> = {};
  for (const [name, pid] of pids) {
    const after = costOf(pid);
    const start = before.get(name) as ProcessCost;
    result[name] = { cpuPercent: ((after.cpuS - start.cpuS) / elapsedS) * 100, switchesPerS: (after.switches - start.switches) / elapsedS };
  }
  return result;
}

const byRate: Record<string, Record<string, { cpuPercent: number; switchesPerS: number }>> = {};
for (const rate of rates) {
  const samples: Array<Record<string, { cpuPercent: number; switchesPerS: number }>> = [];
  for (let run = 0; run < runs; run++) {
    const pipeline = await startPipeline({
      deviceId: 'bench-rate',
      startReader: false,
      readerEnv: { VIGIL_SENSOR_READER_RATE_HZ: String(Math.max(rate, 1)), VIGIL_SENSOR_READER_SIM_FAULTS: '', VIGIL_SENSOR_READER_SIM_SPEED: '1' },
    });
    try {
      if (rate > 0) pipeline.services.set('sensor-reader', await startHealthy('sensor-reader', pipeline.env['sensor-reader'], pipeline.ports.metrics['sensor-reader']));
      await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
      samples.push(await measure(pipeline, rate > 0 ? PIPELINE_ORDER : PIPELINE_ORDER.filter((name) => name !== 'sensor-reader')));
    } finally {
      await pipeline.stop();
    }
  }
  const names = Object.keys(samples[0] ?? {});
  byRate[String(rate)] = Object.fromEntries(
    names.map((name) => [
      name,
      {
        cpuPercent: median(samples.map((sample) => sample[name]?.cpuPercent ?? 0)),
        switchesPerS: median(samples.map((sample) => sample[name]?.switchesPerS ?? 0)),
      },
    ]),
  );
}

const rows = Object.entries(byRate).map(([rate, services]) => {
  const total = Object.values(services).reduce((sum, { cpuPercent }) => sum + cpuPercent, 0);
  return [
    rate === '0' ? 'no traffic' : `${rate} Hz`,
    ...PIPELINE_ORDER.map((name) => (services[name] ? `${services[name].cpuPercent.toFixed(2)} % / ${services[name].switchesPerS.toFixed(0)}` : '-')),
    `${total.toFixed(2)} %`,
  ];
});
console.log(`CPU of one core per service / context switches per second; medians of ${runs} runs of ${seconds} s, scraped every ${SCRAPE_INTERVAL_MS / 1000} s (${machineDescription()})`);
console.log(table(['rate', ...PIPELINE_ORDER, 'all five'], rows));
writeFileSync(resultsFile('rate.json'), `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), seconds, runs, scrapeIntervalMs: SCRAPE_INTERVAL_MS, byRate }, null, 2)}\n`);
