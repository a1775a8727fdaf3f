/**
 * npm run eval -- [--skab <folder>] [--nab <folder>] [--csv <file> --label-column <name> (--learn-rows N | --learn-from <normal.csv>)]
 *   [--models default,dense-ae-6ch,...] [--seeds 1,2,3] [--merge] [--rows <per-row.csv>] [--out bench/results]
 *
 * Streams labelled data causally through the services' own code and scores it:
 * - SKAB (`--skab`): the leaderboard protocol (learn on each file's first 400 rows); F1 / FAR / MAR.
 * - NAB (`--nab`, NAB's layout: data/<category>/<file>.csv and windows.json): learn on each file's
 *   probationary rows, NAB's standard score, normalised as NAB does.
 * - any labelled CSV (`--csv`): learn from its first rows or from a separate normal run.
 * Every data set also gets event figures: windows found, median detection delay, false-alarm
 * events per day. `--models default` (the default) is exactly what a device runs with no settings;
 * SKAB also takes the autoencoder and forest rows of eval/eval-models.ts. Writes JSON and Markdown
 * per data set to --out.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EVAL_MODELS } from './eval-models.js';
import { loadSkab } from './skab-dataset.js';
import { loadNab } from './nab-dataset.js';
import { loadLabelledCsv } from './labelled-csv.js';
import { addConfusion, emptyConfusion, rateScores, type Confusion } from './detection-metrics.js';
import { evaluateSkab } from './skab-evaluation.js';
import { DEFAULT_ROW_NAME, evaluateCsvDefault, evaluateNabDefault, evaluateSkabDefault } from './default-evaluation.js';
import { median } from '@vigil/shared/detection';
import type { EventMetrics } from './event-metrics.js';

function fail(message: string): never {
  process.stderr.write(`eval: ${message}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      skab: { type: 'string' },
      nab: { type: 'string' },
      csv: { type: 'string' },
      'label-column': { type: 'string' },
      'time-column': { type: 'string' },
      'learn-rows': { type: 'string' },
      'learn-from': { type: 'string' },
      rows: { type: 'string' },
      out: { type: 'string', default: 'bench/results' },
      files: { type: 'string' },
      models: { type: 'string', default: 'default' },
      merge: { type: 'boolean', default: false },
      'merge-from': { type: 'string' },
      seeds: { type: 'string' },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  fail((error as Error).message);
}
const args = parsed.values;
if (!args.skab && !args.nab && !args.csv) {
  fail('give a data set: --skab <SKAB folder>, --nab <folder in NAB layout> or --csv <file> --label-column <name> --learn-rows N');
}
const outDir = args.out ?? 'bench/results';
mkdirSync(outDir, { recursive: true });
const today = new Date().toISOString().slice(0, 10);
const wanted = (args.models ?? 'default').split(',');
const format = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** Event figures as one table cell each: found / windows, median delay, false alarms per day. */
function eventCells(events: EventMetrics): string[] {
  return [
    `${events.windowsFound} / ${events.windows}`,
    `${format(events.delaysS.length > 0 ? median(events.delaysS) : Number.NaN, 0)} s`,
    format(events.normalDays > 0 ? events.falseAlarmEvents / events.normalDays : Number.NaN, 2),
  ];
}

function writeResults(name: string, title: string, table: string, json: unknown): void {
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify({ date: new Date().toISOString(), ...(json as object) }, null, 2)}\n`);
  writeFileSync(join(outDir, `${name}.md`), `# ${title} (${today})\n\n${table}\n`);
  process.stdout.write(`\n${title}:\n\n${table}\n`);
}

if (args.skab) await evaluateSkabFolder(args.skab);
if (args.nab) evaluateNabFolder(args.nab);
if (args.csv) evaluateCsvFile(args.csv);

async function evaluateSkabFolder(folder: string): Promise<void> {
  const known = ['default', ...EVAL_MODELS.map((model) => model.id)];
  const unknown = wanted.filter((id) => !known.includes(id));
  if (unknown.length > 0) fail(`unknown model ${unknown.join(', ')}; known: ${known.join(', ')}`);
  let files = (() => {
    try {
      return loadSkab(folder);
    } catch (error) {
      return fail((error as Error).message);
    }
  })();
  if (args.files) files = files.slice(0, Number(args.files));
  const seeds = args.seeds?.split(',').map(Number);
  if (seeds?.some((seed) => !Number.isInteger(seed))) fail(`--seeds takes whole numbers, got ${args.seeds}`);

  interface Row {
    model: string;
    f1: number;
    far: number;
    mar: number;
    nab: number;
    confusion?: Confusion;
    events?: EventMetrics;
    folders?: string;
  }
  const rows: Row[] = [];
  if (wanted.includes('default')) {
    const started = Date.now();
    const result = evaluateSkabDefault(files);
    process.stderr.write(`${DEFAULT_ROW_NAME}: ${((Date.now() - started) / 1000).toFixed(1)} s (no training seed: the same data gives the same model)\n`);
    rows.push({ model: DEFAULT_ROW_NAME, f1: result.f1, far: result.far, mar: result.mar, nab: result.nab, confusion: result.confusion, events: result.events, folders: byFolder(result.files) });
  }
  for (const model of EVAL_MODELS.filter((candidate) => wanted.includes(candidate.id))) {
    const variants = seeds ? seeds.map((seed) => ({ ...model, name: `${model.name}, seed ${seed}`, train: { ...model.train, seed } })) : [model];
    for (const config of variants) {
      process.stderr.write(`evaluating ${config.name} on ${files.length} files...\n`);
      const result = await evaluateSkab(files, config);
      rows.push({ model: result.model, f1: result.f1, far: result.far, mar: result.mar, nab: result.nab, confusion: result.confusion, folders: byFolder(result.files) });
    }
  }
  // --merge keeps the rows of models not evaluated this time (training is seeded: a row does not
  // change between runs of the same code and data), so one slow model can be rerun alone.
  const previousFile = join(outDir, 'skab-eval.json');
  const mergeFrom = args['merge-from']?.split(',') ?? (args.merge && existsSync(previousFile) ? [previousFile] : []);
  for (const file of mergeFrom) {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as { files: number; results: Row[] };
    if (previous.files !== files.length) fail(`merge: ${file} scored ${previous.files} files, this run ${files.length}`);
    rows.push(...previous.results.filter((old) => !rows.some((row) => row.model === old.model)));
  }
  const order = (name: string) => (name === DEFAULT_ROW_NAME ? -1 : EVAL_MODELS.findIndex((model) => name === model.name || name.startsWith(`${model.name}, seed `)));
  rows.sort((a, b) => order(a.model) - order(b.model));
  const published = [
    { model: 'Conv-AE (leaderboard)', f1: 0.78, far: 13.55, mar: 28.02, nab: Number.NaN },
    { model: 'MSET (leaderboard)', f1: 0.78, far: 39.73, mar: 14.13, nab: Number.NaN },
    { model: 'Vanilla AE (leaderboard)', f1: 0.39, far: 2.59, mar: 75.15, nab: Number.NaN },
    { model: 'Isolation forest (leaderboard)', f1: 0.29, far: 2.56, mar: 82.89, nab: Number.NaN },
  ];
  const table = [
    '| model | F1 | FAR % | MAR % | NAB (changepoints) | faults found | median delay | false alarms / day |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...[...rows, ...published].map((row: Row) =>
      [row.model, format(row.f1, 2), format(row.far, 2), format(row.mar, 2), format(row.nab, 1), ...(row.events ? eventCells(row.events) : ['', '', ''])].join(' | '),
    ),
  ]
    .map((line) => (line.startsWith('|') ? line : `| ${line} |`))
    .join('\n');
  writeResults('skab-eval', `SKAB, ${files.length} files, learn on the first 400 rows of each, score the rest (causal)`, table, { files: files.length, results: rows, leaderboard: published });
  for (const row of rows) if (row.folders) process.stdout.write(`${row.model}: ${row.folders}\n`);
}

/** F1 / FAR / MAR per SKAB folder (other, valve1, valve2: different rigs' faults). */
function byFolder(files: ReadonlyArray<{ name: string; confusion: Confusion }>): string {
  const folders = [...new Set(files.map((file) => file.name.split('/')[0] ?? ''))];
  return folders
    .map((folder) => {
      const confusion = files.filter((file) => file.name.startsWith(`${folder}/`)).reduce((total, file) => addConfusion(total, file.confusion), emptyConfusion());
      const scores = rateScores(confusion);
      return `${folder} ${scores.f1.toFixed(2)} / ${scores.far.toFixed(1)} / ${scores.mar.toFixed(1)}`;
    })
    .join(', ');
}

function evaluateNabFolder(folder: string): void {
  if (wanted.some((id) => id !== 'default')) fail('NAB runs the default detector only (--models default): the autoencoders need several channels');
  let files;
  try {
    files = loadNab(folder);
  } catch (error) {
    fail((error as Error).message);
  }
  const result = evaluateNabDefault(files);
  // Published detectors on the 23 files of the development subset (its README, NAB's own results).
  const published = [
    ['numenta (HTM)', 72.9],
    ['ARTime', 69.6],
    ['numentaTM', 67.7],
    ['knncad', 58.1],
    ['relativeEntropy', 51.1],
    ['randomCutForest', 50.6],
    ['windowedGaussian', 26.5],
    ['random', 23.1],
  ] as const;
  const table = [
    '| detector | NAB standard (normalised) | windows found | median delay from window start | false alarms / day |',
    '| --- | --- | --- | --- | --- |',
    `| ${DEFAULT_ROW_NAME} | ${result.score.toFixed(1)} | ${eventCells(result.events).join(' | ')} |`,
    ...(folder.includes('nab-dev') ? published.map(([name, score]) => `| ${name} (published) | ${score.toFixed(1)} | | | |`) : []),
  ].join('\n');
  const perFile = result.files.map((file) => `| ${file.name} | ${file.score.toFixed(3)} | ${file.windowsFound} / ${file.windows} | ${file.falsePositives} |`).join('\n');
  writeResults('nab-eval', `NAB layout, ${files.length} files from ${folder.split('/').filter(Boolean).at(-1)}, learn on the probationary rows, NAB standard profile`, table, {
    files: files.length,
    score: result.score,
    events: result.events,
    perFile: result.files,
  });
  process.stdout.write(`\n| file | raw score | windows found | false alarms |\n| --- | --- | --- | --- |\n${perFile}\n`);
}

function evaluateCsvFile(path: string): void {
  if (wanted.some((id) => id !== 'default')) fail('a CSV runs the default detector only (--models default)');
  if (!args['label-column']) fail('--csv needs --label-column <name> (1 = anomalous)');
  if (!args['learn-rows'] === !args['learn-from']) fail('--csv learns from --learn-rows N (its first rows) or --learn-from <normal.csv>, one of them');
  try {
    const file = loadLabelledCsv(path, args['label-column'], args['time-column']);
    const learnRows = Number(args['learn-rows']);
    if (args['learn-rows'] && (!Number.isInteger(learnRows) || learnRows <= 0)) fail('--learn-rows must be a positive whole number');
    const learnFrom = args['learn-from'] ? loadLabelledCsv(args['learn-from'], undefined, args['time-column']) : learnRows;
    const result = evaluateCsvDefault(file, learnFrom);
    const table = [
      '| model | F1 | FAR % | MAR % | windows found | median delay | false alarms / day |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      `| ${DEFAULT_ROW_NAME} | ${format(result.f1, 2)} | ${format(result.far, 2)} | ${format(result.mar, 2)} | ${eventCells(result.events).join(' | ')} |`,
    ].join('\n');
    writeResults('csv-eval', `${file.name}, ${file.channels.length} channels, ${result.watched.readings.length} rows watched`, table, {
      file: file.name,
      channels: file.channels,
      ...result,
      outcome: undefined,
      watched: undefined,
      labels: undefined,
    });
    if (args.rows) {
      const lines = result.watched.timestamps.map(
        (ts, row) => `${new Date(ts).toISOString()},${(result.outcome.surprises[row] ?? 0).toFixed(3)},${result.outcome.level.toFixed(3)},${result.outcome.alarms[row] ? 1 : 0},${result.outcome.states[row] ?? ''},${result.labels[row] ? 1 : 0}`,
      );
      writeFileSync(args.rows, `timestamp,surprise,level,alarm,state,label\n${lines.join('\n')}\n`);
      process.stdout.write(`per-row surprise, level, alarm (anomalous or changed), state and label: ${args.rows}\n`);
    }
  } catch (error) {
    fail((error as Error).message);
  }
}
