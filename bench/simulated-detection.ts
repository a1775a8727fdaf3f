/**
 * npm run eval:simulated [-- --seeds 1,2,3,4 --normal-minutes 30]
 * The default detector on the product's own simulated pump at 10 Hz, as a device meets it: the
 * preprocessor's scaler learns over 1,200 readings, learn mode over the next 3,000 (five
 * minutes), then the pump runs normally for --normal-minutes and each fault kind is injected in
 * turn (60 s each, 4 minutes apart). Per seed and fault: found or not, the delay from the fault's
 * start to the alarm, and false alarms in the normal running, per hour. Through the services' own
 * classes (feature pipeline, default detector, surprise threshold), in one process.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AssetFeaturePipeline, DEFAULT_FEATURE_SPEC, DefaultDetector, median } from '../shared/src/index.js';
import { FAULT_KINDS } from '../services/sensor-reader/src/faults.js';
import { PumpSimulator } from '../services/sensor-reader/src/pump-simulator.js';
import { DEFAULT_FEATURE_SETTINGS } from '../test/harness/model-fixture.js';
import { machineDescription, resultsFile, table } from './stats.js';

const { values: args } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3,4' }, 'normal-minutes': { type: 'string', default: '30' } } });
const seeds = (args.seeds ?? '').split(',').map(Number);
const normalS = Number(args['normal-minutes']) * 60;
const RATE_HZ = 10;
const FAULT_S = 60;
const GAP_S = 240;
/** An alarm that begins within the fault or this long after its end counts as finding it. */
const GRACE_S = 30;

interface FaultOutcome {
  seed: number;
  kind: string;
  found: boolean;
  delayS: number;
}

const outcomes: FaultOutcome[] = [];
let falseAlarms = 0;
let normalHours = 0;
for (const seed of seeds) {
  const simulator = new PumpSimulator({ seed, rateHz: RATE_HZ });
  const pipeline = new AssetFeaturePipeline(DEFAULT_FEATURE_SETTINGS);
  const learned: number[][] = [];
  const learnedTs: number[] = [];
  const tsOf = () => Math.round(simulator.timeS * 1000);
  // The scaler's warm-up, then learn mode's samples.
  while (learned.length < 3000) {
    const ts = tsOf();
    const result = pipeline.process({ ...simulator.next() });
    if (result.ok && !result.warmup) {
      learned.push(result.features);
      learnedTs.push(ts);
    }
  }
  const detector = DefaultDetector.learn(pipeline.names, learned, learnedTs);
  const watchFromS = simulator.timeS;
  const faults = FAULT_KINDS.map((kind, index) => ({ kind, startS: watchFromS + normalS + index * (FAULT_S + GAP_S), durationS: FAULT_S }));
  for (const fault of faults) simulator.addFault(fault);
  const endS = (faults.at(-1)?.startS ?? 0) + FAULT_S + GAP_S;
  const raisedAtS: number[] = [];
  while (simulator.timeS < endS) {
    const ts = tsOf();
    const result = pipeline.process({ ...simulator.next() });
    if (!result.ok) continue;
    if (detector.detect(result.features, ts).raised) raisedAtS.push(ts / 1000);
  }
  // Normal running: before the first fault, and between faults once their grace has passed.
  const inFault = (t: number) => faults.some((fault) => t >= fault.startS && t <= fault.startS + fault.durationS + GRACE_S);
  falseAlarms += raisedAtS.filter((t) => !inFault(t)).length;
  normalHours += (normalS + faults.length * (GAP_S - GRACE_S)) / 3600;
  for (const fault of faults) {
    const first = raisedAtS.find((t) => t >= fault.startS && t <= fault.startS + fault.durationS + GRACE_S);
    outcomes.push({ seed, kind: fault.kind, found: first !== undefined, delayS: first === undefined ? Number.NaN : first - fault.startS });
  }
}

const medianOf = (values: number[]) => {
  const found = values.filter(Number.isFinite);
  return found.length === 0 ? Number.NaN : median(found);
};
const rows = FAULT_KINDS.map((kind) => {
  const of = outcomes.filter((outcome) => outcome.kind === kind);
  return [kind, `${of.filter((outcome) => outcome.found).length} / ${of.length}`, medianOf(of.map((outcome) => outcome.delayS)).toFixed(1)];
});
const found = outcomes.filter((outcome) => outcome.found).length;
rows.push(['all', `${found} / ${outcomes.length}`, medianOf(outcomes.map((outcome) => outcome.delayS)).toFixed(1)]);
console.log(`\nThe default detector on the simulated pump at ${RATE_HZ} Hz, seeds ${seeds.join(', ')} (${machineDescription()}):\n`);
console.log(table(['fault', 'found', 'median delay s'], rows));
console.log(`\nfalse alarms in ${normalHours.toFixed(1)} hours of normal running (${Math.round(normalHours * 3600 * RATE_HZ)} samples): ${falseAlarms}`);
writeFileSync(
  resultsFile('simulated-detection.json'),
  `${JSON.stringify({ date: new Date().toISOString(), rateHz: RATE_HZ, seeds, normalMinutes: normalS / 60, learnSamples: 3000, scalerWarmup: DEFAULT_FEATURE_SPEC.scalerWarmup, outcomes, falseAlarms, normalHours }, null, 2)}\n`,
);
