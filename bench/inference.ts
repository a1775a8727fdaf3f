/**
 * npm run bench:inference [-- --runs 5 --iterations 20000]
 * Per-sample latency of the project's dense runtime and of @tensorflow/tfjs predict on the same
 * weights, in the same run, each in fresh processes (so import time and RSS are its own): medians
 * over the runs, and the ratio.
 */
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainTestBundle } from '../test/harness/model-fixture.js';
import { machineDescription, median, table } from './stats.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, iterations: { type: 'string', default: '20000' } } });
const runs = Number(args.runs);
const root = new URL('..', import.meta.url).pathname;
const bundle = await trainTestBundle({ samples: 6000, epochs: 5 });

interface Measurement {
  mode: string;
  importMs: number;
  rssLoadedMb: number;
  batch1P50Us: number;
  batch1P99Us: number;
  batch64P50Us: number;
  batch64P99Us: number;
}

// The worker runs as a bundled file under plain node, as the services do: a TypeScript loader
// would add its own ~35 MB and import time to both sides.
const workerFile = join(root, 'bench/results/.inference-worker.mjs');
mkdirSync(join(root, 'bench/results'), { recursive: true });
await build({
  entryPoints: [join(root, 'bench/inference-worker.ts')],
  outfile: workerFile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['@tensorflow/tfjs'],
  logLevel: 'warning',
});

const measurements: Record<string, Measurement[]> = { runtime: [], int8: [], tfjs: [] };
for (let run = 0; run < runs; run += 1) {
  // Alternate, so drift in the machine's load hits both alike.
  for (const mode of ['runtime', 'int8', 'tfjs']) {
    const output = execFileSync(process.execPath, [workerFile, mode, bundle, String(args.iterations)], {
      cwd: root,
      encoding: 'utf8',
    });
    measurements[mode]?.push(JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Measurement);
  }
}
const summary = (mode: string) => {
  const list = measurements[mode] ?? [];
  const pick = (key: keyof Measurement) => median(list.map((m) => m[key] as number));
  return {
    batch1P50Us: pick('batch1P50Us'),
    batch1P99Us: pick('batch1P99Us'),
    batch64P50Us: pick('batch64P50Us'),
    batch64P99Us: pick('batch64P99Us'),
    importMs: pick('importMs'),
    rssLoadedMb: pick('rssLoadedMb'),
  };
};
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
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(
  join(root, 'bench/results/inference.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), runs, iterations: Number(args.iterations), ours, int8, tfjs, raw: measurements }, null, 2)}\n`,
);
