/**
 * npm run train -- --csv normal.csv --out models/pump [--epochs 40] [--window 10]
 *   [--features mean,std,slope] [--warmup 3000] [--name pump-ae] [--version 1] [--precision int8|fp32]
 * `--features series --window 16` trains the conv autoencoder on the window itself;
 * `--model isolation-forest --precision fp32` grows an isolation forest on the window summaries.
 * Makes a model bundle from a CSV of normal operation (SKAB layout or generic with a header).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CLEANER_POLICIES,
  DEFAULT_FEATURE_SPEC,
  DEFAULT_FORWARD_FILL_LIMIT,
  isWindowFeature,
  WINDOW_FEATURES,
  MODEL_PRECISIONS,
  modelKindFor,
  parseColumnMap,
  parseCsvText,
  PUMP_PHYSICAL_LIMITS,
  type ModelKind,
  type ModelPrecision,
  type WindowFeature,
} from '@vigil/shared';
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
    channels: { type: 'string', default: DEFAULT_FEATURE_SPEC.channels.join(',') },
    columns: { type: 'string', default: '' },
    'time-column': { type: 'string', default: 'datetime' },
    name: { type: 'string' },
    version: { type: 'string', default: new Date().toISOString().slice(0, 10) },
    seed: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.seed) },
    precision: { type: 'string', default: 'int8' },
    model: { type: 'string', default: 'autoencoder' },
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

if (!args.csv || !args.out) fail('usage: train --csv <normal-data.csv> --out <bundle folder>');
const features = (args.features ?? '').split(',').map((feature) => feature.trim());
if (!features.every(isWindowFeature)) fail(`--features must be from: ${WINDOW_FEATURES.join(', ')}`);
let kind: ModelKind = 'dense-autoencoder';
try {
  kind = modelKindFor(features);
} catch (error) {
  fail((error as Error).message);
}
if (args.model === 'isolation-forest') {
  if (kind === 'conv-autoencoder') fail('an isolation forest reads window summaries: --features cannot be series');
  if (args.precision !== 'fp32') fail('an isolation forest ships as it is grown: give --precision fp32');
  kind = 'isolation-forest';
} else if (args.model !== 'autoencoder') fail('--model must be autoencoder or isolation-forest');
const precision = args.precision as ModelPrecision;
if (!MODEL_PRECISIONS.includes(precision)) fail(`--precision must be one of ${MODEL_PRECISIONS.join(', ')}`);
const channels = (args.channels ?? '').split(',').map((channel) => channel.trim());

const text = await readFile(args.csv, 'utf8').catch((error: Error) => fail(`cannot read ${args.csv}: ${error.message}`));
const { rows, rejected } = parseCsvText(text, {
  timeColumn: args['time-column'] ?? 'datetime',
  columnMap: parseColumnMap((args.columns ?? '').split(',').filter((entry) => entry !== '')),
});
const started = Date.now();
const manifest = await buildBundle(
  rows.map((row) => row.channels),
  args.out,
  {
    name: args.name ?? { 'conv-autoencoder': 'pump-conv-ae', 'dense-autoencoder': 'pump-dense-ae', 'isolation-forest': 'pump-iforest' }[kind],
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
  },
).catch((error: Error) => fail(error.message));
process.stdout.write(
  `wrote ${args.out}: ${manifest.name} ${manifest.version} (${manifest.kind}, ${precision}), ${manifest.training.samples} samples ` +
    `(${rows.length} rows, ${rejected} malformed), ${kind === 'isolation-forest' ? '100 trees' : `loss ${manifest.training.finalLoss.toFixed(5)}`}, ` +
    `backend ${manifest.training.backend}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
