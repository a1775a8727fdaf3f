/**
 * npm run bench:inference [-- --runs 5 --iterations 20000]
 * Per-sample latency of the project's dense runtime and of @tensorflow/tfjs predict on the same
 * weights, in the same run, each in fresh processes (so import time and RSS are its own): medians
 * over the runs, and the ratio.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { trainTestBundle } from '../test/harness/model-fixture.js';
import { buildInferenceWorker, measureModes, medians } from './inference-workers.js';
import { machineDescription, resultsFile, table } from './stats.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, iterations: { type: 'string', default: '20000' } } });
const runs = Number(args.runs);
const bundles = {
  fp32: await trainTestBundle({ samples: 6000, epochs: 5 }),
  int8: await trainTestBundle({ samples: 6000, epochs: 5, precision: 'int8' }),
};
const measurements = measureModes(await buildInferenceWorker(), ['runtime', 'int8', 'tfjs'], bundles, runs, Number(args.iterations));
const summary = (mode: string) => medians(measurements[mode] ?? []);
const ours = summary('runtime');
const int8 = summary('int8');
const tfjs = summary('tfjs');
const rows = [
  ['vigil dense runtime (FP32)', ours.batch1P50Us, ours.batch1P99Us, ours.batch64P50Us, ours.batch64P99Us, ours.importMs, ours.rssLoadedMb],
  ['vigil dense runtime (INT8)', int8.batch1P50Us, int8.batch1P99Us, int8.batch64P50Us, int8.batch64P99Us, int8.importMs, int8.rssLoadedMb],
  ['@tensorflow/tfjs predict (cpu)', tfjs.batch1P50Us, tfjs.batch1P99Us, tfjs.batch64P50Us, tfjs.batch64P99Us, tfjs.importMs, tfjs.rssLoadedMb],
  ['ratio tfjs / vigil', tfjs.batch1P50Us / ours.batch1P50Us, tfjs.batch1P99Us / ours.batch1P99Us, tfjs.batch64P50Us / ours.batch64P50Us, tfjs.batch64P99Us / ours.batch64P99Us, tfjs.importMs / ours.importMs, tfjs.rssLoadedMb / ours.rssLoadedMb],
];
const text = table(['runtime (24-64-32-64-24)', 'b1 p50 µs', 'b1 p99 µs', 'b64 p50 µs/sample', 'b64 p99 µs/sample', 'import+load ms', 'RSS MB'], rows);
console.log(`\nInference, medians of ${runs} runs x ${args.iterations} samples (${machineDescription()}):\n\n${text}\n`);
writeFileSync(
  resultsFile('inference.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), runs, iterations: Number(args.iterations), ours, int8, tfjs, raw: measurements }, null, 2)}\n`,
);
