/**
 * npm run bench:rate [-- --rates 0,1,10,100 --seconds 60 --runs 3 --skip-floor]
 * What the five services cost at the rate a device really runs, not at peak: CPU time of each
 * process (the scheduler's nanoseconds per thread, see process-cpu.ts) and its context switches (a proxy for wake-ups,
 * from /proc/<pid>/status) over a window, at each sample rate; rate 0 is no traffic at all (the
 * reader not started). Prometheus's scrape is played at its real interval (the shipped one, /metrics of
 * each service), as on the device. At each rate with traffic, the same five-process chain with no
 * work at all (`bench/relay-chain.ts`) is measured the same way: the floor under the row, what
 * waking a Node process once a reading costs on this machine. Prints a table (medians of the runs)
 * and writes bench/results/rate.json.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { scrape } from '../test/harness/metrics.js';
import { PIPELINE_ORDER, startHealthy, startPipeline } from '../test/harness/pipeline.js';
import { costOf, cpuSecondsBetween, type ProcessCost } from './process-cpu.js';
import { startRelayChain } from './relay-chain.js';
import { machineDescription, median, resultsFile, SHIPPED_SCRAPE_INTERVAL_MS, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '0,1,10,100' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '10' },
    'skip-floor': { type: 'boolean', default: false },
  },
});
const rates = (args.rates ?? '').split(',').map(Number);
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const settleS = Number(args.settle);
// As the device's Prometheus scrapes: part of what a service costs at rest.
const SCRAPE_INTERVAL_MS = SHIPPED_SCRAPE_INTERVAL_MS;

type Cost = Record<string, { cpuPercent: number; switchesPerS: number }>;

/** CPU and context switches of each process over `seconds`, scraping each metrics port (if any) at the shipped interval meanwhile. */
async function measure(pids: Map<string, number>, metricsPorts: number[]): Promise<Cost> {
  const before = new Map([...pids].map(([name, pid]) => [name, costOf(pid)]));
  const started = Date.now();
  const scraper = setInterval(() => {
    for (const port of metricsPorts) void scrape(port).catch(() => undefined);
  }, SCRAPE_INTERVAL_MS);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(scraper);
  const elapsedS = (Date.now() - started) / 1000;
  const result: Cost = {};
  for (const [name, pid] of pids) {
    const after = costOf(pid);
    const start = before.get(name) as ProcessCost;
    result[name] = { cpuPercent: (cpuSecondsBetween(start, after) / elapsedS) * 100, switchesPerS: (after.switches - start.switches) / elapsedS };
  }
  return result;
}

function medianCost(samples: Cost[]): Cost {
  const names = Object.keys(samples[0] ?? {});
  return Object.fromEntries(
    names.map((name) => [
      name,
      {
        cpuPercent: median(samples.map((sample) => sample[name]?.cpuPercent ?? 0)),
        switchesPerS: median(samples.map((sample) => sample[name]?.switchesPerS ?? 0)),
      },
    ]),
  );
}

const byRate: Record<string, Cost> = {};
// The floor chain's processes under the stage names whose places they take.
const floorByRate: Record<string, Cost> = {};
for (const rate of rates) {
  const samples: Cost[] = [];
  const floorSamples: Cost[] = [];
  for (let run = 0; run < runs; run++) {
    const pipeline = await startPipeline({
      deviceId: 'bench-rate',
      startReader: false,
      readerEnv: { VIGIL_SENSOR_READER_RATE_HZ: String(Math.max(rate, 1)), VIGIL_SENSOR_READER_SIM_FAULTS: '', VIGIL_SENSOR_READER_SIM_SPEED: '1' },
    });
    try {
      if (rate > 0) pipeline.services.set('sensor-reader', await startHealthy('sensor-reader', pipeline.env['sensor-reader'], pipeline.ports.metrics['sensor-reader']));
      await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
      const names = rate > 0 ? PIPELINE_ORDER : PIPELINE_ORDER.filter((name) => name !== 'sensor-reader');
      samples.push(await measure(new Map(names.map((name) => [name, pipeline.services.get(name)?.child.pid as number])), names.map((name) => pipeline.ports.metrics[name])));
    } finally {
      await pipeline.stop();
    }
    if (rate > 0 && !args['skip-floor']) {
      const chain = await startRelayChain(rate);
      try {
        await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
        floorSamples.push(await measure(new Map(PIPELINE_ORDER.map((name, i) => [name, chain.children[i]?.pid as number])), []));
      } finally {
        chain.stop();
      }
    }
  }
  byRate[String(rate)] = medianCost(samples);
  if (floorSamples.length > 0) floorByRate[String(rate)] = medianCost(floorSamples);
}

const row = (label: string, services: Cost) => {
  const total = Object.values(services).reduce((sum, { cpuPercent }) => sum + cpuPercent, 0);
  return [
    label,
    ...PIPELINE_ORDER.map((name) => (services[name] ? `${services[name].cpuPercent.toFixed(2)} % / ${services[name].switchesPerS.toFixed(0)}` : '-')),
    `${total.toFixed(2)} %`,
  ];
};
const rows = Object.entries(byRate).flatMap(([rate, services]) => {
  const floor = floorByRate[rate];
  const measured = row(rate === '0' ? 'no traffic' : `${rate} Hz`, services);
  return floor ? [measured, row(`${rate} Hz, no-work floor`, floor)] : [measured];
});
console.log(`CPU of one core per service / context switches per second; medians of ${runs} runs of ${seconds} s, scraped every ${SCRAPE_INTERVAL_MS / 1000} s (${machineDescription()})`);
console.log(table(['rate', ...PIPELINE_ORDER, 'all five'], rows));
writeFileSync(resultsFile('rate.json'), `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), seconds, runs, scrapeIntervalMs: SCRAPE_INTERVAL_MS, byRate, floorByRate }, null, 2)}\n`);
