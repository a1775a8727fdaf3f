/**
 * npm run simulate -- --samples 12000 --out normal.csv [--rate 10] [--seed 7] [--faults leak@600+60]
 * Writes the simulated pump's readings as CSV (datetime + one column per channel): training data
 * for `npm run train`, or a file to replay with the csv source.
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseFaultSchedule } from './faults.js';
import { PUMP_CHANNELS, PumpSimulator } from './pump-simulator.js';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '12000' },
    out: { type: 'string' },
    rate: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    faults: { type: 'string', default: '' },
    start: { type: 'string', default: '2026-01-01T00:00:00Z' },
  },
});
const samples = Number(args.samples);
const rateHz = Number(args.rate);
const startMs = Date.parse(args.start ?? '');
if (!args.out || !Number.isInteger(samples) || samples <= 0 || !(rateHz > 0) || !Number.isFinite(startMs)) {
  process.stderr.write('usage: simulate --out <file.csv> [--samples N] [--rate Hz] [--seed N] [--faults schedule]\n');
  process.exit(2);
}
const simulator = new PumpSimulator({ seed: Number(args.seed), rateHz });
for (const fault of parseFaultSchedule(args.faults ?? '')) simulator.addFault(fault);
const out = createWriteStream(args.out);
out.write(`datetime,${PUMP_CHANNELS.join(',')}\n`);
for (let i = 0; i < samples; i += 1) {
  const reading = simulator.next();
  const ts = new Date(startMs + (i * 1000) / rateHz).toISOString();
  const line = `${ts},${PUMP_CHANNELS.map((channel) => reading[channel].toFixed(5)).join(',')}\n`;
  if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}
out.end();
await new Promise<void>((resolve) => out.once('finish', () => resolve()));
process.stdout.write(`wrote ${samples} samples to ${args.out}\n`);
