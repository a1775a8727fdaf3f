import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AutoDetectorStream,
  autocorrelationTime,
  DefaultDetector,
  DetectorScorer,
  DEFAULT_EVIDENCE_ALARM_SETTINGS,
  EvidenceAlarm,
  initialSurpriseThresholdState,
  isEvidenceAlarmState,
  fitTail,
  isAutoDetectorModel,
  isDetectorMemory,
  type DetectorMemory,
  learnAutoDetector,
  MAX_DETECTOR_ASSETS,
  SeededRandom,
  SurpriseThreshold,
  surpriseOf,
} from '../src/index.js';

/** Standard normal draws (Box-Muller) from a seeded generator. */
function gaussian(random: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
}

/**
 * Eight channels driven by two hidden factors (load, speed) plus noise: correlated, as a pump's
 * are. The factors move slowly (first-order autoregressive, about a hundred samples of memory),
 * as a machine's load does, with unit variance.
 */
function correlatedRows(n: number, seed: number): number[][] {
  const random = new SeededRandom(seed);
  let load = gaussian(random);
  let speed = gaussian(random);
  return Array.from({ length: n }, () => {
    load = 0.99 * load + 0.141 * gaussian(random);
    speed = 0.99 * speed + 0.141 * gaussian(random);
    return Array.from({ length: 8 }, (_, c) => 10 * (c + 1) + (c % 2 === 0 ? load : speed) * (1 + c / 4) + 0.2 * gaussian(random));
  });
}

const times = (n: number, periodMs = 1000) => Array.from({ length: n }, (_, i) => i * periodMs);
const channels8 = Array.from({ length: 8 }, (_, c) => `c${c}`);

describe('tail calibration', () => {
  const random = new SeededRandom(5);
  const values = Array.from({ length: 2000 }, () => gaussian(random) ** 2);
  const tail = fitTail(values);

  it('gives ordinary values little surprise and rises without a break, finitely, past the learned range', () => {
    assert.ok(surpriseOf(tail, 0.1) < 0.5);
    let previous = 0;
    for (let value = 0; value <= 200; value += 0.25) {
      const surprise = surpriseOf(tail, value);
      assert.ok(surprise >= previous - 1e-9, `not monotone at ${value}`);
      assert.ok(Number.isFinite(surprise));
      previous = surprise;
    }
    const largest = Math.max(...values);
    // Just past the largest of 2,000 values: about log10(2000), not an explosion.
    const justPast = surpriseOf(tail, largest * 1.05);
    assert.ok(justPast > 3 && justPast < 4.5, `just past the learned range: ${justPast}`);
    assert.ok(surpriseOf(tail, 100) > justPast + 3, 'far past it, far more surprising');
  });

  it('never calls a value rarer than the learning period showed it (a spike seen twice while learning)', () => {
    const spiky = Array.from({ length: 1000 }, (_, i) => (i === 300 || i === 700 ? 50 : Math.abs(gaussian(random))));
    const calibrated = fitTail(spiky);
    // Seen twice in 1,000: at most log10(1001 / 2) = 2.7.
    assert.ok(surpriseOf(calibrated, 50) <= Math.log10(1001 / 2) + 1e-9);
  });

  it('counts a smoothed statistic by its independent values: correlated samples make its largest less rare', () => {
    assert.ok(Math.abs(autocorrelationTime(values) - 1) < 0.3, 'independent values: about 1');
    let ewma = 0;
    const smoothed = values.map((value) => (ewma += 0.1 * (value - ewma)));
    const time = autocorrelationTime(smoothed);
    assert.ok(time > 8 && time < 30, `an EWMA of weight 0.1: about 19, got ${time}`);
    const beyond = Math.max(...smoothed) * 1.01;
    assert.ok(surpriseOf(fitTail(smoothed), beyond) < Math.log10(2000) - 0.5);
  });
});

describe('the default detector, chosen from the learning period', () => {
  it('builds the same model from the same data: nothing in it depends on a seed', () => {
    const rows = correlatedRows(1500, 1);
    assert.deepEqual(learnAutoDetector(channels8, rows, times(1500)), learnAutoDetector(channels8, rows, times(1500)));
  });

  it('gives eight correlated channels a principal component model (T² and the residual) and one channel a level and temporal statistics', () => {
    const eight = learnAutoDetector(channels8, correlatedRows(1500, 2), times(1500));
    assert.ok(eight.principal, 'a principal component model');
    assert.ok(eight.principal.components.length >= 1 && eight.principal.components.length < 8, `${eight.principal.components.length} components`);
    assert.ok(eight.calibration.t2 && eight.calibration.spe && eight.calibration.jump && eight.calibration['shift-t2']);
    assert.equal(eight.calibration.level, undefined);
    assert.equal(eight.samplePeriodMs, 1000);
    assert.ok(isAutoDetectorModel(JSON.parse(JSON.stringify(eight))));

    const random = new SeededRandom(3);
    const one = learnAutoDetector(['value'], Array.from({ length: 800 }, () => [5 + gaussian(random)]), times(800, 300_000));
    assert.equal(one.principal, undefined);
    assert.ok(one.calibration.level && one.calibration.jump && one.calibration.shift);
    assert.equal(one.period, undefined, 'noise has no cycle');
  });

  it('finds a daily cycle when the learning period holds two, and judges a break of it while values stay in range', () => {
    const perDay = 96; // one sample every 15 minutes
    const random = new SeededRandom(4);
    const daily = (i: number) => 10 + 5 * Math.sin((2 * Math.PI * i) / perDay) + 0.3 * gaussian(random);
    const learning = Array.from({ length: 3 * perDay }, (_, i) => [daily(i)]);
    const model = learnAutoDetector(['load'], learning, times(learning.length, 900_000));
    assert.equal(model.period, perDay);
    const detector = new DefaultDetector(model);
    let raisedOnCycle = false;
    let raisedBefore = false;
    for (let i = learning.length; i < learning.length + 3 * perDay; i += 1) {
      // A day with the cycle flattened at its mean: every value inside the learned range.
      const broken = i >= learning.length + 2 * perDay;
      const detection = detector.detect([broken ? 10 + 0.3 * gaussian(random) : daily(i)], i * 900_000);
      if (detection.raised && !broken) raisedBefore = true;
      if (detection.raised && broken) raisedOnCycle = true;
    }
    assert.ok(!raisedBefore, 'no alarm on two ordinary days');
    assert.ok(raisedOnCycle, 'the flattened day alarms');
  });

  it('leaves a channel that trended while learning out of the level model, by measurement', () => {
    const random = new SeededRandom(6);
    const rows = Array.from({ length: 600 }, (_, i) => [20 + 0.01 * i + 0.1 * gaussian(random), 5 + gaussian(random), 3 + gaussian(random)]);
    const model = learnAutoDetector(['warming', 'a', 'b'], rows, times(600));
    assert.deepEqual(model.drifting, [true, false, false]);
  });

  it('scores a reading just outside the learned range finitely and far below a real fault, whatever sample it learned from', () => {
    const test = correlatedRows(400, 99);
    const models = [11, 12].map((seed) => learnAutoDetector(channels8, correlatedRows(1500, seed), times(1500)));
    const surprises = models.map((model) => {
      const stream = new AutoDetectorStream(model);
      const ordinary = test.map((row) => stream.score(row).surprise);
      // The most extreme learned reading, 10 % further from the centre: just outside the range,
      // in a direction the machine moves in.
      const learned = correlatedRows(1500, 11);
      const distance = (row: number[]) => row.reduce((sum, value, c) => sum + ((value - (model.center[c] as number)) / (model.scale[c] as number)) ** 2, 0);
      const extreme = learned.reduce((best, row) => (distance(row) > distance(best) ? row : best));
      const justOutside = new AutoDetectorStream(model).score(extreme.map((value, c) => (model.center[c] as number) + 1.1 * (value - (model.center[c] as number)))).surprise;
      // A fault: channel 3 (of the "speed" group) moves against its partners by 8 of its spreads.
      const faulty = [...(test[0] as number[])];
      faulty[3] = (faulty[3] as number) + 8 * (model.scale[3] as number);
      const fault = new AutoDetectorStream(model).score(faulty).surprise;
      return { ordinary, justOutside, fault };
    });
    for (const { ordinary, justOutside, fault } of surprises) {
      assert.ok(Number.isFinite(justOutside) && justOutside < 15, `just outside: ${justOutside}`);
      assert.ok(fault > justOutside, `the fault (${fault}) scores above just outside the range (${justOutside})`);
      const sorted = [...ordinary].sort((a, b) => a - b);
      assert.ok((sorted[Math.floor(0.99 * sorted.length)] as number) < 3, 'ordinary data: the 99th percentile below one in a thousand');
    }
    // Two learning runs on different samples of the same machine agree: surprises within 1
    // (a factor of 10 in probability) for 95 % of ordinary samples.
    const differences = surprises[0]!.ordinary.map((value, i) => Math.abs(value - surprises[1]!.ordinary[i]!)).sort((a, b) => a - b);
    assert.ok((differences[Math.floor(0.95 * differences.length)] as number) < 1, `95th percentile of differences: ${differences[Math.floor(0.95 * differences.length)]}`);
  });

  it('follows slow benign drift while normal, and learns nothing from a fault', () => {
    const model = learnAutoDetector(channels8, correlatedRows(5000, 7), times(5000));
    const stream = new AutoDetectorStream(model);
    // A fault held for 2,000 samples: surprising at once; held steady for the settle time, it is a
    // new level the stream judges from, and reads `changed` for as long as it lasts, never learned.
    const fault = (row: number[]) => row.map((value, c) => (c === 2 ? value + 10 * (model.scale[2] as number) : value));
    const rows = correlatedRows(2000, 9);
    const first = stream.score(fault(rows[0] as number[]));
    assert.ok(first.surprise > 5 && first.baseline === 'learned', `the fault is surprising: ${first.surprise}`);
    const scores = rows.slice(1).map((row) => stream.score(fault(row)));
    const settledAt = scores.findIndex((score) => score.newLevel);
    assert.ok(settledAt >= stream.settleSamples - 2 && settledAt < 2 * stream.settleSamples, `settled at ${settledAt} (settle time ${stream.settleSamples})`);
    assert.ok(scores.slice(settledAt).every((score) => score.baseline === 'changed'), 'a held fault never reads as the learned normal');
    assert.equal(scores.filter((score) => score.newLevel).length, 1, 'one new level, not a stream of them');
    // The fault ends: the way back is not a new anomaly, the stream is judged from the learned
    // baseline again after the settle time, and the baseline learned nothing from the fault.
    const after = correlatedRows(3000, 11).map((row) => stream.score(row));
    const lastChanged = after.findLastIndex((score) => score.baseline === 'changed');
    assert.ok(lastChanged < stream.settleSamples + 100, `back on the learned baseline after ${lastChanged} samples`);
    const settledBack = after.slice(2000).map((score) => score.surprise).sort((a, b) => a - b);
    assert.ok((settledBack[Math.floor(0.99 * settledBack.length)] as number) < 3, 'ordinary again: the 99th percentile below one in a thousand');
    // Slow drift along what the machine learned (its load rising): a quarter of a spread per
    // learning period (5,000 samples), four spreads in all. Followed (memory: the learning period),
    // it stays ordinary; judged from where learning left it, it does not.
    const load = (i: number) => (4 * i) / 80_000;
    const drifting = correlatedRows(80_000, 10).map((row, i) => row.map((value, c) => value + (c % 2 === 0 ? load(i) * (1 + c / 4) : 0)));
    const followed = new AutoDetectorStream(model);
    const control = new AutoDetectorStream(model);
    const undrifted = correlatedRows(80_000, 10);
    let late = 0;
    let controlLate = 0;
    const followedLast: number[] = [];
    drifting.forEach((row, i) => {
      const surprise = followed.score(row).surprise;
      if (i >= 80_000 - 150) followedLast.push(surprise);
      const controlSurprise = control.score(undrifted[i] as number[]).surprise;
      if (i > 79_000) {
        late = Math.max(late, surprise);
        controlLate = Math.max(controlLate, controlSurprise);
      }
    });
    // A stream judging from where learning left it (fresh: its smoothed level starts there) finds
    // the same readings unusual, once its smoothed level has caught up (a few dozen samples).
    const fresh = new AutoDetectorStream(model);
    const frozen = drifting.slice(-200).map((row) => fresh.score(row).surprise).slice(50);
    const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    assert.ok(late < controlLate + 1, `after four spreads of slow drift, surprises as without it: ${late} (without drift ${controlLate})`);
    assert.ok(medianOf(frozen) > medianOf(followedLast) + 1, `the same readings judged from the learned state: median surprise ${medianOf(frozen)} (followed: ${medianOf(followedLast)})`);
  });
});

describe('a settled new level: one alarm, then changed', () => {
  /** One noisy channel at 1 Hz, with steps at the given samples (to the given levels, in noise sigmas). */
  function steps(n: number, seed: number, levels: Array<[number, number]>): number[] {
    const random = new SeededRandom(seed);
    return Array.from({ length: n }, (_, i) => 50 + levels.reduce((level, [at, to]) => (i >= at ? to : level), 0) + gaussian(random));
  }

  it('alarms once at a step to a held new level, reads changed (not normal) while it holds, and alarms again at the next step', () => {
    const learn = steps(600, 1, []);
    const detector = DefaultDetector.learn(['value'], learn.map((v) => [v]), times(600));
    const watched = steps(3000, 2, [[500, 12], [1500, 24]]);
    const decisions = watched.map((value, i) => detector.detect([value], (600 + i) * 1000));
    const raises = decisions.flatMap((decision, i) => (decision.raised ? [i] : []));
    assert.equal(raises.length, 2, `one alarm per step, raised at ${raises.join(', ')}`);
    assert.ok((raises[0] as number) >= 500 && (raises[0] as number) < 510, `the first step alarms at once: ${raises[0]}`);
    assert.ok((raises[1] as number) >= 1500 && (raises[1] as number) < 1510, `the second, from the new level, too: ${raises[1]}`);
    const states = (from: number, to: number) => new Set(decisions.slice(from, to).map((decision) => decision.decision.state));
    assert.deepEqual([...states(1300, 1500)], ['changed'], 'held at the first new level: changed');
    assert.deepEqual([...states(2800, 3000)], ['changed'], 'held at the second: changed');
    assert.ok(!decisions.slice(500).some((decision) => decision.decision.state === 'normal'), 'a change that persists never reads as normal');
  });

  it('reads normal again once the machine is back where it learned, without a new alarm on the way back', () => {
    const learn = steps(600, 3, []);
    const detector = DefaultDetector.learn(['value'], learn.map((v) => [v]), times(600));
    const watched = steps(2500, 4, [[500, 12], [1200, 0]]);
    const decisions = watched.map((value, i) => detector.detect([value], (600 + i) * 1000));
    assert.equal(decisions.filter((decision) => decision.raised).length, 1, 'the step out alarms, the step back does not');
    assert.deepEqual([...new Set(decisions.slice(1500).map((decision) => decision.decision.state))], ['normal']);
  });

  it('ends the alarm of a moderate shift it holds into changed: one alarm, not an endless one, and never normal', () => {
    const learn = steps(600, 7, []);
    const detector = DefaultDetector.learn(['value'], learn.map((v) => [v]), times(600));
    // 2.5 sigmas: not every sample past the learned range, but a level plainly off.
    const watched = steps(4000, 8, [[500, 2.5]]);
    const decisions = watched.map((value, i) => detector.detect([value], (600 + i) * 1000));
    const raises = decisions.flatMap((decision, i) => (decision.raised ? [i] : []));
    assert.equal(raises.length, 1, `one alarm, raised at ${raises.join(', ')}`);
    assert.ok((raises[0] as number) >= 500 && (raises[0] as number) < 560, `raised soon after the shift: ${raises[0]}`);
    const lastAnomalous = decisions.findLastIndex((decision) => decision.decision.state === 'anomalous');
    assert.ok(lastAnomalous < 1000, `the alarm ends once the level is held, at ${lastAnomalous}`);
    assert.deepEqual([...new Set(decisions.slice(lastAnomalous + 1).map((decision) => decision.decision.state))], ['changed']);
  });

  it('never slips from normal into changed: an asset read as normal is judged from the learned baseline', () => {
    const threshold = new SurpriseThreshold(DEFAULT_EVIDENCE_ALARM_SETTINGS, initialSurpriseThresholdState(0, 1000));
    // The detector holds a new level in mind (changedLevel) and finds the sample ordinary from it,
    // while from home it is a little off, not enough to alarm: the asset stays normal.
    for (let i = 0; i < 500; i += 1) assert.equal(threshold.decide(0.2, i * 1000, true, 1, { changedLevel: true, homeSurprise: 1.5, homeWeight: 1 }).state, 'normal');
    // From home it is far off: the alarm rises on that, then ends into changed.
    assert.equal(threshold.decide(0.2, 500_000, true, 1, { changedLevel: true, homeSurprise: 12, homeWeight: 1 }).state, 'anomalous');
    let state = '';
    for (let i = 1; i <= 40; i += 1) state = threshold.decide(0.2, 500_000 + i * 1000, true, 1, { changedLevel: true, homeSurprise: 12, homeWeight: 1 }).state;
    assert.equal(state, 'changed');
  });

  it('raises on a slow move to a held new level that the evidence alone never raised', () => {
    const learn = steps(600, 5, []);
    const detector = DefaultDetector.learn(['value'], learn.map((v) => [v]), times(600));
    // A ramp of 8 sigmas over 400 samples, then held: each sample only a little past the last.
    const random = new SeededRandom(6);
    const watched = Array.from({ length: 2000 }, (_, i) => 50 + 8 * Math.min(1, Math.max(0, (i - 300) / 400)) + gaussian(random));
    const decisions = watched.map((value, i) => detector.detect([value], (600 + i) * 1000));
    const raises = decisions.flatMap((decision, i) => (decision.raised ? [i] : []));
    assert.equal(raises.length, 1, `one alarm for the move, at ${raises.join(', ')}`);
    assert.ok((raises[0] as number) > 300 && (raises[0] as number) < 900, `raised while moving or once held: ${raises[0]}`);
    assert.equal(decisions.at(-1)?.decision.state, 'changed');
  });
});

describe('the evidence alarm', () => {
  it('raises at once on one sample far rarer than the rate allows, after several on a run of moderately rare ones, and never on ordinary ones', () => {
    const alarm = new EvidenceAlarm({ falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 }, 1000);
    assert.ok(Math.abs(alarm.level - Math.log10(604_800)) < 1e-9);
    for (let i = 0; i < 1000; i += 1) assert.equal(alarm.decide(i % 3, i * 1000).raised, false);
    assert.equal(alarm.decide(1.6 * alarm.level, 1_000_000).raised, true, 'one spike');
    const slow = new EvidenceAlarm({ falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 }, 1000);
    const moderate = slow.reference + 1;
    const raisedAt = Array.from({ length: 20 }, (_, i) => slow.decide(moderate, i * 1000).raised).indexOf(true);
    assert.equal(raisedAt, Math.ceil(slow.level / 1) - 1);
  });

  it('counts a run of correlated rare values (a smoothed statistic) as one look, not one per sample', () => {
    const settings = { falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 };
    const surprise = 4.5;
    // Independent samples: 4.5 each, past the reference of 2.89 by 1.61: an alarm at the fourth.
    const independent = new EvidenceAlarm(settings, 1000);
    assert.equal(Array.from({ length: 10 }, (_, i) => independent.decide(surprise, i * 1000).raised).indexOf(true), 3);
    // The same values from a statistic with 20 samples per independent value: 20 samples are one look.
    const smoothed = new EvidenceAlarm(settings, 1000);
    const raisedAt = Array.from({ length: 400 }, (_, i) => smoothed.decide(surprise, i * 1000, 1 / 20).raised).indexOf(true);
    // Its own level is lower (20x fewer looks a week: 4.48, reference 2.24): two looks, 40 samples.
    assert.equal(raisedAt, 39, `a smoothed run needs two looks' worth of samples, raised at ${raisedAt}`);
    // Evidence against is not slowed: ordinary samples drain it at full speed.
    smoothed.decide(0, 500_000, 1 / 20);
    assert.ok(smoothed.state.evidence < smoothed.level);
  });

  it('raises at once on one sample rare enough to raise as an independent one, whatever its correlation', () => {
    const settings = { falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 };
    const smoothed = new EvidenceAlarm(settings, 300_000);
    // A spike through a smoothed level: four samples, a twentieth of a look each.
    const spike = [1.6, 1.1, 0.9, 0.7].map((share) => smoothed.decide(share * smoothed.level, 1_000_000, 1 / 20).raised);
    assert.deepEqual(spike, [true, false, false, false], 'raised on the first, as an independent sample would be');
    const below = new EvidenceAlarm(settings, 300_000);
    const under = [1.4, 1.1, 0.9, 0.7].map((share) => below.decide(share * below.level, 1_000_000, 1 / 20).raised);
    assert.deepEqual(under, [false, false, false, false], 'below 1.5x the level a short run of a smoothed statistic is still less than a look');
  });

  it('stops raising on a lone spike the stream has shown more often than the rate allows, never on a fault that persists', () => {
    const settings = { falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 };
    const period = 300_000; // five minutes a sample: 2,016 a week, level 3.3
    let t = 0;
    const run = (alarm: EvidenceAlarm, surprises: readonly number[]): boolean[] => surprises.map((surprise) => alarm.decide(surprise, (t += period)).raised);
    const quiet = (samples: number): number[] => new Array<number>(samples).fill(0);
    const recurring = new EvidenceAlarm(settings, period);
    const spike = 1.6 * recurring.level;
    assert.deepEqual(run(recurring, [...quiet(1000), spike]).slice(-1), [true], 'the first lone spike raises on its own');
    assert.ok(!run(recurring, [...quiet(200), spike]).includes(true), 'the same spike 200 samples later is a 1-in-1,200 event: it does not raise alone');
    assert.ok(!run(recurring, [...quiet(200), spike + 0.5]).includes(true), 'nor one a little higher: past the learned range that is the same event');
    const higher = run(recurring, [...quiet(200), 2.5 * recurring.level]);
    assert.equal(higher.at(-1), true, 'a spike over a decade rarer than any the stream has shown still raises at once');
    const fault = run(recurring, [...quiet(200), ...new Array<number>(10).fill(spike)]);
    assert.equal(fault.indexOf(true), 201, 'a persisting fault at the same surprise raises on its second sample');
    assert.ok(recurring.state.alarm);
    assert.ok(isEvidenceAlarmState(JSON.parse(JSON.stringify(recurring.state))), 'the counts survive a restart through JSON');
    // Read against the stream's length: once the spikes are rarer than the rate, they raise again.
    assert.equal(run(recurring, [...quiet(400_000), spike]).at(-1), true, 'four such spikes in 400,000 samples are rarer than one a week');

    const afterFault = new EvidenceAlarm(settings, period);
    run(afterFault, [...quiet(1000), ...new Array<number>(20).fill(spike), ...quiet(20)]);
    assert.ok(!afterFault.state.alarm);
    assert.equal(run(afterFault, [spike]).at(-1), true, 'a long excursion (a fault) says nothing of how often lone spikes recur');
  });

  it('ends an alarm after the same quiet time at 1 Hz and at 10 Hz: persistence is in time, not samples', () => {
    for (const periodMs of [1000, 100]) {
      const alarm = new EvidenceAlarm({ falseAlarmsPerWeek: 1, clearAfterMs: 30_000, clearAfterSamples: 3 }, periodMs);
      alarm.decide(30, 0);
      let clearedAt = -1;
      for (let t = periodMs; t < 60_000 && clearedAt < 0; t += periodMs) if (alarm.decide(0, t).cleared) clearedAt = t;
      assert.ok(clearedAt >= 30_000 && clearedAt <= 31_000 + 3 * periodMs, `cleared at ${clearedAt} ms at ${periodMs} ms a sample`);
    }
  });
});

describe('the detector scorer', () => {
  it('keeps each asset its own memory, and a bounded number of them', () => {
    const model = learnAutoDetector(channels8, correlatedRows(500, 21), times(500));
    const scorer = new DetectorScorer(model, channels8, 1);
    const rows = correlatedRows(200, 22);
    const alone = new DetectorScorer(model, channels8, 1);
    // Asset a's scores do not depend on what asset b sent in between.
    const aAlone = rows.slice(0, 50).map((row) => alone.score(row, 'a').score);
    const aShared = rows.slice(0, 50).map((row, i) => {
      scorer.score(rows[199 - i] as number[], 'b');
      return scorer.score(row, 'a');
    });
    assert.deepEqual(aShared.map((scored) => scored.score), aAlone);
    const a = aShared.at(-1)!;
    assert.equal(Object.keys(a.contributions).length, 8);
    const total = Object.values(a.contributions).reduce((sum, share) => sum + share, 0);
    assert.ok(total === 0 || Math.abs(total - 1) < 1e-9);
    for (let i = 0; i < MAX_DETECTOR_ASSETS + 10; i += 1) scorer.score(rows[2] as number[], `asset-${i}`);
    // The bound: the least recently scored assets went first.
    assert.equal((scorer as unknown as { streams: Map<string, unknown> }).streams.size, MAX_DETECTOR_ASSETS);
  });
});

describe("the detector's memory, across a restart", () => {
  /** One noisy channel at 1 Hz, stepping to `to` sigmas at sample `at` of the watched rows. */
  const stepped = (n: number, seed: number, at: number, to: number) => {
    const random = new SeededRandom(seed);
    return Array.from({ length: n }, (_, i) => [50 + (i >= at ? to : 0) + gaussian(random)]);
  };

  it('resumes a stream exactly where it was: the same scores as if it had never stopped, through JSON', () => {
    const model = learnAutoDetector(channels8, correlatedRows(600, 31), times(600));
    assert.equal(model.period, undefined, 'no cycle here: every statistic resumes');
    const rows = correlatedRows(400, 32);
    const running = new AutoDetectorStream(model);
    rows.slice(0, 200).forEach((row) => running.score(row));
    const memory: unknown = JSON.parse(JSON.stringify(running.memory()));
    assert.ok(isDetectorMemory(memory, model));
    const resumed = new AutoDetectorStream(model, memory);
    const fresh = new AutoDetectorStream(model);
    const after = rows.slice(200).map((row) => [running.score(row).surprise, resumed.score(row).surprise, fresh.score(row).surprise] as const);
    after.forEach(([kept, back], i) => assert.ok(Math.abs(kept - back) < 1e-9, `sample ${i}: ${kept} against ${back}`));
    // The check has teeth: a stream started afresh scores its first samples differently.
    assert.ok(after.slice(0, 5).some(([kept, , cold]) => Math.abs(kept - cold) > 1e-6));
  });

  it('keeps an asset at its settled new level: after a restart it is judged from there at once, not from home', () => {
    const model = learnAutoDetector(['value'], stepped(600, 41, 10_000, 0), times(600));
    const watched = stepped(2000, 42, 200, 12);
    const before = new DefaultDetector(model);
    const decisions = watched.slice(0, 1200).map((row, i) => before.detect(row, (600 + i) * 1000));
    assert.equal(decisions.filter((decision) => decision.raised).length, 1);
    assert.equal(decisions.at(-1)?.decision.state, 'changed');
    const scorer = new DetectorScorer(model, ['value'], 1);
    // The scorer carries the memory: here taken from a scorer that saw the same samples.
    watched.slice(0, 1200).forEach((row) => scorer.score(row, 'pump'));
    assert.ok(scorer.atNewLevel('pump'));
    const memory: unknown = JSON.parse(JSON.stringify(scorer.memoryOf('pump')));
    const restarted = new DetectorScorer(model, ['value'], 1);
    assert.ok(restarted.resume('pump', memory));
    assert.ok(restarted.atNewLevel('pump'));
    const next = restarted.score(watched[1200] as number[], 'pump');
    assert.equal(next.level?.changedLevel, true, 'judged from the new level at once');
    // Afresh, the same sample is judged from home: a fault as large as the step.
    const cold = new DetectorScorer(model, ['value'], 1).score(watched[1200] as number[], 'pump');
    assert.ok(cold.score > next.score + 3, `from home ${cold.score}, from the new level ${next.score}`);
  });

  it("refuses a memory that does not fit the model, and does not judge the cycle before it has a period's memory again", () => {
    const model = learnAutoDetector(channels8, correlatedRows(600, 51), times(600));
    // Typed as what it is before the checks: a refused type predicate would narrow it to never.
    const memory: DetectorMemory = new AutoDetectorStream(model).memory();
    const broken: unknown = { ...memory, home: memory.home.map(() => Number.NaN) };
    const other = learnAutoDetector(['value'], stepped(600, 52, 10_000, 0), times(600));
    assert.ok(!isDetectorMemory(memory, other), 'eight channels of memory for a one-channel model');
    assert.ok(!isDetectorMemory(broken, model));
    assert.ok(!new DetectorScorer(other, ['value'], 1).resume('a', memory));

    const perDay = 96;
    const random = new SeededRandom(53);
    const daily = (i: number) => 10 + 5 * Math.sin((2 * Math.PI * i) / perDay) + 0.3 * gaussian(random);
    const cyclic = learnAutoDetector(['load'], Array.from({ length: 3 * perDay }, (_, i) => [daily(i)]), times(3 * perDay, 900_000));
    assert.equal(cyclic.period, perDay);
    const running = new AutoDetectorStream(cyclic);
    for (let i = 3 * perDay; i < 5 * perDay; i += 1) running.score([daily(i)]);
    const resumed = new AutoDetectorStream(cyclic, running.memory());
    const components = Array.from({ length: 2 * perDay }, (_, k) => resumed.score([daily(5 * perDay + k)]));
    assert.ok(!components.slice(0, perDay).some((scored) => scored.component === 'cycle'), 'no cycle judged against an empty memory');
    assert.ok(components.every((scored) => scored.surprise < 4), `ordinary days stay ordinary: ${Math.max(...components.map((scored) => scored.surprise))}`);
  });
});
