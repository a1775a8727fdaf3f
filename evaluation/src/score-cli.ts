/**
 * npm run score -- --model <bundle folder> --csv <file> [--rows <per-row.csv>] [--time-column name]
 *
 * Scores a CSV offline with a model bundle, through the code the services run: the preprocessor's
 * feature pipeline (its scaler learning over the file's first readings, as on the device), the
 * bundle's scorer, and the threshold the adaptive-threshold service would use for it (the surprise
 * threshold for the default detector's calibrated scores, adaptive marks for an autoencoder's).
 * Prints how many alarms began and where; --rows writes every row's score, marks and state.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AdaptiveThreshold,
  DEFAULT_EVIDENCE_ALARM_SETTINGS,
  DEFAULT_THRESHOLD_SETTINGS,
  initialSurpriseThresholdState,
  initialThresholdState,
  SurpriseThreshold,
} from '@vigil/shared/detection';
import { AssetFeaturePipeline, DEFAULT_CLEANER_POLICIES, DEFAULT_FORWARD_FILL_LIMIT, PUMP_PHYSICAL_LIMITS } from '@vigil/shared/features';
import { loadBundle, scorerForBundle, type LoadedBundle, type ScoredSample } from '@vigil/shared/model';
import { loadLabelledCsv } from './labelled-csv.js';

function fail(message: string): never {
  process.stderr.write(`score: ${message}\n`);
  process.exit(2);
}

let args: { model?: string; csv?: string; rows?: string; 'time-column'?: string };
try {
  args = parseArgs({ options: { model: { type: 'string' }, csv: { type: 'string' }, rows: { type: 'string' }, 'time-column': { type: 'string' } } }).values;
} catch (error) {
  fail((error as Error).message);
}
if (!args.model || !args.csv) fail('usage: npm run score -- --model <bundle folder> --csv <file> [--rows <per-row.csv>]');
let bundle: LoadedBundle;
try {
  bundle = await loadBundle(args.model);
} catch (error) {
  fail(`cannot load the bundle at ${args.model}: ${(error as Error).message}`);
}
let file: ReturnType<typeof loadLabelledCsv>;
try {
  file = loadLabelledCsv(args.csv, undefined, args['time-column']);
} catch (error) {
  fail((error as Error).message);
}
const { featureSpec } = bundle.manifest;
const missing = featureSpec.channels.filter((channel) => !file.channels.includes(channel));
if (missing.length > 0) fail(`the model reads ${missing.join(', ')}, which ${file.name} lacks (its columns: ${file.channels.join(', ')})`);

const settings = { ...featureSpec, limits: PUMP_PHYSICAL_LIMITS, policies: DEFAULT_CLEANER_POLICIES, forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT };
const pipeline = new AssetFeaturePipeline(settings);
const scorer = scorerForBundle(bundle);
const readingOf = (row: number) => Object.fromEntries(featureSpec.channels.map((channel) => [channel, file.readings[row]?.[channel] as number]));
const first = file.timestamps[0] ?? 0;
const threshold = scorer.calibrated
  ? new SurpriseThreshold(DEFAULT_EVIDENCE_ALARM_SETTINGS, initialSurpriseThresholdState(first, scorer.calibrated.samplePeriodMs))
  : new AdaptiveThreshold(DEFAULT_THRESHOLD_SETTINGS, initialThresholdState(first));
const lines: string[] = [];
const raised: string[] = [];
for (let row = 0; row < file.readings.length; row += 1) {
  const ts = file.timestamps[row] as number;
  const result = pipeline.process(readingOf(row));
  if (!result.ok) {
    lines.push(`${new Date(ts).toISOString()},,,,rejected:${result.reason}`);
    continue;
  }
  const scored = !result.warmup;
  const sample: ScoredSample = scored ? scorer.score(result.features, 'csv') : { score: 0, contributions: {}, weight: 1 };
  const { score, weight } = sample;
  const decision = threshold instanceof SurpriseThreshold ? threshold.decide(score, ts, scored, weight, sample.level) : threshold.decide(score, ts, scored);
  if (decision.changed && decision.state === 'anomalous') raised.push(new Date(ts).toISOString());
  lines.push(`${new Date(ts).toISOString()},${score.toPrecision(6)},${decision.high.toPrecision(6)},${decision.low.toPrecision(6)},${decision.state}`);
}
if (args.rows) writeFileSync(args.rows, `timestamp,score,high,low,state\n${lines.join('\n')}\n`);
process.stdout.write(
  `${file.name}: ${file.readings.length} rows scored with ${bundle.manifest.name} ${bundle.manifest.version} (${bundle.manifest.kind}); ` +
    `${raised.length} alarm${raised.length === 1 ? '' : 's'} began${raised.length > 0 ? `: ${raised.slice(0, 10).join(', ')}${raised.length > 10 ? ', ...' : ''}` : ''}\n` +
    (args.rows ? `per-row score, marks and state: ${args.rows}\n` : ''),
);
