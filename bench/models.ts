/**
 * npm run bench:models [-- --runs 5 --iterations 20000]
 * The seed's comparison table (DESIGN.md: a Pi 3B+ with TFLite), reproduced with this project's
 * models: size of what the runtime holds, latency per sample at batch 1 in the real runtime
 * (fresh process per measurement, medians over the runs), RSS of a process holding the model,
 * and the SKAB scores from the last `npm run eval` (bench/results/skab-eval.json), with the same
 * network through @tensorflow/tfjs predict measured in the same run as the reference.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AutoDetectorStream, learnAutoDetector } from '../shared/src/detection/auto-detector.js';
import { defaultTestBundle, DEFAULT_FEATURE_SETTINGS, simulatedNormalReadings, trainTestBundle } from '../test/harness/model-fixture.js';
import { featuresOfReadings } from '../training/src/bundle-builder.js';
import { buildInferenceWorker, measureModes, medians, ROOT, type Summary } from './inference-workers.js';
import { machineDescription, resultsFile, table } from './stats.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, iterations: { type: 'string', default: '20000' } } });
const runs = Number(args.runs);

interface SkabRow {
  model: string;
  f1: number;
  far: number;
  mar: number;
}

/** Each row: our model, the worker mode that runs it, the eval row scoring it, the seed's row. */
const MODELS: Array<{ name: string; mode: string; evalRow?: string; seed: string }> = [
  { name: 'default detector (8 channels)', mode: 'detector', evalRow: 'default (what a device runs with no settings)', seed: '-' },
  { name: 'conv AE FP32 (16 x 8 window)', mode: 'conv', evalRow: 'conv-ae (16 s window)', seed: '12 MB / 180 ms / 340 MB' },
  { name: 'conv AE INT8 (16 x 8 window)', mode: 'conv-int8', evalRow: 'conv-ae INT8 (16 s window)', seed: '3 MB / 45 ms / 95 MB' },
  { name: 'isolation forest', mode: 'iforest', evalRow: 'isolation forest (levels, 5 s window)', seed: '2 MB / 8 ms / 60 MB' },
  { name: 'dense AE FP32', mode: 'runtime', evalRow: 'dense-ae (levels, no loop temperatures)', seed: '-' },
  { name: 'dense AE INT8', mode: 'int8', evalRow: 'dense-ae INT8 (levels, no loop temperatures)', seed: '800 KB / 12 ms / 40 MB' },
  { name: 'dense AE FP32 via @tensorflow/tfjs (reference)', mode: 'tfjs', seed: '-' },
];

const bundles = {
  fp32: await trainTestBundle({ samples: 6000, epochs: 5 }),
  int8: await trainTestBundle({ samples: 6000, epochs: 5, precision: 'int8' }),
  conv: await trainTestBundle({ samples: 4000, epochs: 4, kind: 'conv-autoencoder' }),
  convInt8: await trainTestBundle({ samples: 4000, epochs: 4, kind: 'conv-autoencoder', precision: 'int8' }),
  detector: await defaultTestBundle(),
};
const modes = MODELS.map((model) => model.mode);
const measurements = measureModes(await buildInferenceWorker(), modes, bundles, runs, Number(args.iterations));
const summaries: Record<string, Summary> = Object.fromEntries(modes.map((mode) => [mode, medians(measurements[mode] ?? [])]));

const evalFile = join(ROOT, 'bench/results/skab-eval.json');
const skab: SkabRow[] = existsSync(evalFile) ? (JSON.parse(readFileSync(evalFile, 'utf8')) as { results: SkabRow[] }).results : [];

const scoresOf = (row: string | undefined) => {
  const found = skab.find((result) => result.model === row);
  return found ? { model: found.model, f1: found.f1, far: found.far, mar: found.mar } : null;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const rows = MODELS.map((model) => {
  const measured = summaries[model.mode];
  const scores = skab.find((row) => row.model === model.evalRow);
  if (!measured) throw new Error(`${model.name} was not measured`);
  return [
    model.name,
    kb(measured.modelBytes),
    measured.batch1P50Us,
    measured.batch1P99Us,
    measured.rssLoadedMb,
    scores ? scores.f1 : '-',
    scores ? scores.far : '-',
    scores ? scores.mar : '-',
    model.seed,
  ];
});
// Learning the default detector from learn mode's 3,000 samples (in this process: it is what the
// learn worker does, less the process start), medians of the runs.
const learning = featuresOfReadings(simulatedNormalReadings(3000, 5), { ...DEFAULT_FEATURE_SETTINGS, scalerWarmup: 3000 });
const learnMs = Array.from({ length: Math.max(runs, 3) }, () => {
  const started = performance.now();
  learnAutoDetector(learning.pipeline.names, learning.features, learning.timestamps.map((_, i) => i * 100));
  return performance.now() - started;
}).sort((a, b) => a - b)[Math.floor(Math.max(runs, 3) / 2)] as number;

// The default detector's cost while a fault holds the levels off (its steadiness is checked then)
// and once it scores from a new level (levels judged twice), against ordinary data: µs a sample,
// medians of the runs, in this process.
const detectorModel = learnAutoDetector(learning.pipeline.names, learning.features, learning.timestamps.map((_, i) => i * 100));
const ordinary = learning.features.slice(0, 2000);
const scenarios: Record<string, number[][]> = {
  ordinary,
  'held off, still moving': ordinary.map((row, i) => row.map((value) => value + 10 + i * 0.01)),
  'at a new level': ordinary.map((row) => row.map((value) => value + 10)),
};
const detectorStates = Object.fromEntries(
  Object.entries(scenarios).map(([name, rows]) => {
    const perSample = Array.from({ length: Math.max(runs, 3) }, () => {
      const stream = new AutoDetectorStream(detectorModel);
      const started = performance.now();
      for (let repeat = 0; repeat < 5; repeat += 1) for (const row of rows) stream.score(row);
      return ((performance.now() - started) * 1000) / (5 * rows.length);
    }).sort((x, y) => x - y);
    return [name, Number((perSample[Math.floor(perSample.length / 2)] as number).toFixed(2))];
  }),
);

console.log(`\nModels, medians of ${runs} fresh processes x ${args.iterations} samples (${machineDescription()}); SKAB from ${existsSync(evalFile) ? 'the last npm run eval' : 'no eval run yet'}:\n`);
console.log(table(['model', 'size', 'b1 p50 µs', 'b1 p99 µs', 'RSS MB', 'SKAB F1', 'FAR %', 'MAR %', 'seed on a Pi 3B+ (size / latency / RAM)'], rows));
console.log(`\nLearning the default detector from ${learning.features.length} samples x ${learning.pipeline.names.length} channels: ${learnMs.toFixed(0)} ms (median)`);
console.log(`The default detector's µs a sample by what it sees (in this process): ${Object.entries(detectorStates).map(([name, us]) => `${name} ${us}`).join(', ')}`);
writeFileSync(
  resultsFile('models.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), runs, iterations: Number(args.iterations), detectorLearnMs: learnMs, detectorMicrosecondsBySituation: detectorStates, models: MODELS.map((model) => ({ ...model, measured: summaries[model.mode], skab: scoresOf(model.evalRow) })) }, null, 2)}\n`,
);
