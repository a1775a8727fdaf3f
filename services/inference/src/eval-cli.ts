/**
 * npm run eval -- --skab <folder> [--out bench/results] [--files 34] [--models dense-ae,dense-ae-int8] [--seeds 1,2,3] [--merge [a.json,b.json]]
 * --seeds trains each model once per seed (rows named with it): how much of a row is the seed's.
 * --merge keeps the rows of models not evaluated this time from the last skab-eval.json (or from
 * the result files named), so one slow model can be rerun alone: training is seeded, so a row does
 * not change between runs of the same code and data.
 * Replays SKAB through the services' preprocessing, model and threshold code, following the
 * leaderboard protocol, and prints F1 / FAR / MAR / NAB beside the published rows.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EVAL_MODELS } from './eval/eval-models.js';
import { loadSkab } from './eval/skab-dataset.js';
import { addConfusion, emptyConfusion, rateScores } from './eval/detection-metrics.js';
import { evaluateSkab, type EvalResult } from './eval/skab-evaluation.js';

const { values: args } = parseArgs({
  options: {
    skab: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    files: { type: 'string' },
    models: { type: 'string' },
    merge: { type: 'boolean', default: false },
    'merge-from': { type: 'string' },
    seeds: { type: 'string' },
  },
});
if (!args.skab) {
  process.stderr.write(`usage: npm run eval -- --skab <SKAB data folder> [--out bench/results] [--models ${EVAL_MODELS.map((model) => model.id).join(',')}]\n`);
  process.exit(2);
}

/** Published SKAB leaderboard rows (outlier detection), for comparison. */
const LEADERBOARD = [
  { model: 'Conv-AE (leaderboard)', f1: 0.78, far: 13.55, mar: 28.02 },
  { model: 'MSET (leaderboard)', f1: 0.78, far: 39.73, mar: 14.13 },
  { model: 'Vanilla AE (leaderboard)', f1: 0.39, far: 2.59, mar: 75.15 },
  { model: 'Isolation forest (leaderboard)', f1: 0.29, far: 2.56, mar: 82.89 },
];

let files = loadSkab(args.skab);
if (args.files) files = files.slice(0, Number(args.files));
const wanted = args.models?.split(',');
const unknown = wanted?.filter((id) => !EVAL_MODELS.some((model) => model.id === id)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`eval: unknown model ${unknown.join(', ')}; known: ${EVAL_MODELS.map((model) => model.id).join(', ')}\n`);
  process.exit(2);
}
const seeds = args.seeds?.split(',').map(Number);
if (seeds?.some((seed) => !Number.isInteger(seed))) {
  process.stderr.write(`eval: --seeds takes whole numbers, got ${args.seeds}\n`);
  process.exit(2);
}
const results: EvalResult[] = [];
for (const model of EVAL_MODELS.filter((candidate) => !wanted || wanted.includes(candidate.id))) {
  const variants = seeds ? seeds.map((seed) => ({ ...model, name: `${model.name}, seed ${seed}`, train: { ...model.train, seed } })) : [model];
  for (const config of variants) {
    process.stderr.write(`evaluating ${config.name} on ${files.length} files...\n`);
    results.push(await evaluateSkab(files, config));
  }
}

const outDir = args.out ?? 'bench/results';
const previousFile = join(outDir, 'skab-eval.json');
const mergeFrom = args['merge-from']?.split(',') ?? (args.merge && existsSync(previousFile) ? [previousFile] : []);
for (const file of mergeFrom) {
  const previous = JSON.parse(readFileSync(file, 'utf8')) as { files: number; results: EvalResult[] };
  if (previous.files !== files.length) throw new Error(`merge: ${file} scored ${previous.files} files, this run ${files.length}`);
  const kept = previous.results.filter((old) => !results.some((result) => result.model === old.model));
  // In the order of EVAL_MODELS, so the table reads the same whichever rows were rerun.
  const order = (name: string) => EVAL_MODELS.findIndex((model) => name === model.name || name.startsWith(`${model.name}, seed `));
  results.push(...kept);
  results.sort((a, b) => order(a.model) - order(b.model));
}
const rows = [
  ...results.map((result) => ({ model: result.model, f1: result.f1, far: result.far, mar: result.mar, nab: result.nab })),
  ...LEADERBOARD.map((row) => ({ ...row, nab: Number.NaN })),
];
const format = (value: number, digits: number) => (Number.isNaN(value) ? '-' : value.toFixed(digits));
const lines = [
  '| model | F1 | FAR % | MAR % | NAB (standard) |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((row) => `| ${row.model} | ${format(row.f1, 2)} | ${format(row.far, 2)} | ${format(row.mar, 2)} | ${format(row.nab, 1)} |`),
];
const table = lines.join('\n');
process.stdout.write(`\nSKAB, ${files.length} files, learn on the first 400 rows of each, score the rest (causal):\n\n${table}\n\n`);
for (const result of results) {
  const { tp, fp, fn, tn } = result.confusion;
  process.stdout.write(`${result.model}: TP ${tp} FP ${fp} FN ${fn} TN ${tn}, ${result.seconds.toFixed(0)} s; ${byFolder(result)}\n`);
}

/**
 * F1 / FAR / MAR per SKAB folder (other, valve1, valve2: different rigs' faults), so a total that
 * one folder carries shows as such: the settings are one for all files, chosen on SKAB itself.
 */
function byFolder(result: EvalResult): string {
  const folders = [...new Set(result.files.map((file) => file.name.split('/')[0] ?? ''))];
  return folders
    .map((folder) => {
      const confusion = result.files.filter((file) => file.name.startsWith(`${folder}/`)).reduce((total, file) => addConfusion(total, file.confusion), emptyConfusion());
      const scores = rateScores(confusion);
      return `${folder} ${scores.f1.toFixed(2)} / ${scores.far.toFixed(1)} / ${scores.mar.toFixed(1)}`;
    })
    .join(', ');
}
mkdirSync(outDir, { recursive: true });
writeFileSync(previousFile, `${JSON.stringify({ date: new Date().toISOString(), files: files.length, results, leaderboard: LEADERBOARD }, null, 2)}\n`);
writeFileSync(join(outDir, 'skab-eval.md'), `# SKAB evaluation (${new Date().toISOString().slice(0, 10)})\n\n${table}\n`);
