/**
 * npm run train -- --csv normal.csv --out models/pump [--model auto|autoencoder|isolation-forest]
 *   [--time-column timestamp] [--channels a,b] [--columns src=channel,...] [--features last] [--window 2]
 *   [--warmup 1200] [--epochs 40] [--name pump] [--version 1] [--precision int8|fp32] [--seed 42]
 * Makes a model bundle from a CSV of normal operation (SKAB layout or any CSV with a header). With
 * no flags: the default detector (`auto`), the time column found by name, every other numeric
 * column a channel. `--model autoencoder` trains the dense autoencoder (INT8 by default; `--features
 * series --window 16` the conv one); `--model isolation-forest` grows a forest.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CLEANER_POLICIES,
  DEFAULT_FEATURE_SPEC,
  DEFAULT_FORWARD_FILL_LIMIT,
  isWindowFeature,
  WINDOW_FEATURES,
  PUMP_PHYSICAL_LIMITS,
  type WindowFeature,
} from '@vigil/shared/features';
import { findTimeColumn, parseColumnMap, parseCsvText } from '@vigil/shared/runtime';
import { MODEL_CHOICES, MODEL_PRECISIONS, modelKindFor, type ModelChoice, type ModelKind, type ModelPrecision } from '@vigil/shared/model';
import { buildBundle } from './bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS } from './trainer.js';

const { values: args } = parseArgs({
  options: {
    csv: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.epochs) },
    window: { type: 'string', default: String(DEFAULT_FEATURE_SPEC.windowSize) },
    features: { type: 'string', default: DEFAULT_FEATURE_SPEC.features.join(',') },
    warmup: { type: 'string', default: String(DEFAULT_FEATURE_SPEC.scalerWarmup) },
    channels: { type: 'string' },
    columns: { type: 'string', default: '' },
    'time-column': { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string', default: new Date().toISOString().slice(0, 10) },
    seed: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.seed) },
    precision: { type: 'string' },
    model: { type: 'string', default: 'auto' },
  },
});

function fail(message: string): never {
  process.stderr.write(`train: ${message}\n`);
  process.exit(2);
}

function positiveInt(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) fail(`--${name} must be a positive integer`);
  return value;
}

if (!args.csv || !args.out) fail('usage: npm run train -- --csv <normal-data.csv> --out <bundle folder>');
const features = (args.features ?? '').split(',').map((feature) => feature.trim());
if (!features.every(isWindowFeature)) fail(`--features must be from: ${WINDOW_FEATURES.join(', ')}`);
const choice = args.model as ModelChoice;
if (!MODEL_CHOICES.includes(choice)) fail(`--model must be one of ${MODEL_CHOICES.join(', ')}`);
let kind: ModelKind = 'auto-detector';
try {
  kind = modelKindFor(features, choice);
} catch (error) {
  fail((error as Error).message);
}
// Only an autoencoder has a network to quantise: INT8 is its default, and the rest ship as they are.
const networkless = kind === 'isolation-forest' || kind === 'auto-detector';
const precision = (args.precision ?? (networkless ? 'fp32' : 'int8')) as ModelPrecision;
if (!MODEL_PRECISIONS.includes(precision)) fail(`--precision must be one of ${MODEL_PRECISIONS.join(', ')}`);
if (networkless && precision !== 'fp32') fail(`a ${kind} ships as it is learned: leave out --precision or give fp32`);

const text = await readFile(args.csv, 'utf8').catch((error: Error) => fail(`cannot read ${args.csv}: ${error.message}`));
const headerLine = text.split(/\r?\n/, 1)[0] ?? '';
const timeColumn = args['time-column'] ?? findTimeColumn(headerLine);
let parsed: ReturnType<typeof parseCsvText>;
try {
  parsed = parseCsvText(text, { timeColumn, columnMap: parseColumnMap((args.columns ?? '').split(',').filter((entry) => entry !== '')) });
} catch (error) {
  fail(`${args.csv}: ${(error as Error).message}${args['time-column'] ? '' : ' (name the time column with --time-column)'}`);
}
const { rows, rejected } = parsed;
if (rows.length === 0) fail(`${args.csv} has no readable rows (${rejected} malformed): expected a header, then one row per reading`);
const inFile = Object.keys(rows[0]?.channels ?? {});
const channels = args.channels ? args.channels.split(',').map((channel) => channel.trim()) : inFile;
const unknown = channels.filter((channel) => !inFile.includes(channel));
if (unknown.length > 0) fail(`--channels names ${unknown.join(', ')}, but the file's channels are ${inFile.join(', ')} (map columns with --columns source=channel)`);
const readings = rows.map((row) => Object.fromEntries(channels.map((channel) => [channel, row.channels[channel] as number])));
const started = Date.now();
const manifest = await buildBundle(
  readings,
  args.out,
  {
    name: args.name ?? { 'auto-detector': 'detector', 'conv-autoencoder': 'conv-ae', 'dense-autoencoder': 'dense-ae', 'isolation-forest': 'iforest' }[kind],
    version: args.version ?? '1',
    featureSettings: {
      channels,
      features: features as WindowFeature[],
      windowSize: positiveInt('window', args.window),
      scalerWarmup: positiveInt('warmup', args.warmup),
      limits: PUMP_PHYSICAL_LIMITS,
      policies: DEFAULT_CLEANER_POLICIES,
      forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT,
    },
    train: {
      ...DEFAULT_TRAIN_OPTIONS,
      epochs: positiveInt('epochs', args.epochs),
      seed: positiveInt('seed', args.seed),
      onEpoch: (epoch, loss) => {
        if ((epoch + 1) % 10 === 0) process.stdout.write(`epoch ${epoch + 1}: loss ${loss.toFixed(5)}\n`);
      },
    },
    precision,
    kind,
    timestamps: rows.map((row) => row.ts),
  },
).catch((error: Error) => fail(error.message));
process.stdout.write(
  `wrote ${args.out}: ${manifest.name} ${manifest.version} (${manifest.kind}, ${precision}), ${manifest.training.samples} samples ` +
    `(${rows.length} rows, ${rejected} malformed), ${{ 'isolation-forest': '100 trees', 'auto-detector': 'calibrated' }[kind as string] ?? `loss ${manifest.training.finalLoss.toFixed(5)}`}, ` +
    `backend ${manifest.training.backend}, ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
    `channels: ${channels.join(',')} (set VIGIL_PREPROCESSOR_CHANNELS to the same, VIGIL_PREPROCESSOR_FEATURES=${features.join(',')} and VIGIL_PREPROCESSOR_WINDOW=${args.window})\n`,
);

