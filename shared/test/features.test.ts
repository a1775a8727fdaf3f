import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AssetFeaturePipeline,
  featureNames,
  valuesPerChannel,
  parseLimits,
  ReadingCleaner,
  RunningStats,
  SlidingWindow,
  type CleanerSettings,
  type FeatureResult,
  type FeatureSettings,
} from '../src/index.js';

describe('RunningStats (Welford)', () => {
  it('matches the two-pass mean and variance, also far from zero', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1e6 + Math.sin(i) * 3 + (i % 7));
    const stats = new RunningStats();
    for (const value of values) stats.push(value);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
    assert.ok(Math.abs(stats.mean - mean) < 1e-6);
    assert.ok(Math.abs(stats.variance - variance) / variance < 1e-9);
  });

  it('survives a round trip through its persisted form', () => {
    const stats = new RunningStats();
    [1, 2, 3, 4].forEach((value) => stats.push(value));
    const restored = RunningStats.from(JSON.parse(JSON.stringify(stats)));
    restored.push(5);
    stats.push(5);
    assert.deepEqual(restored.toJSON(), stats.toJSON());
  });
});

describe('SlidingWindow features', () => {
  it('computes mean, std, slope, min, max and last per channel', () => {
    const window = new SlidingWindow(5, 2);
    for (let i = 0; i < 5; i += 1) window.push([2 * i + 1, 7]);
    const out: number[] = [];
    window.features(['mean', 'std', 'slope', 'min', 'max', 'last'], out);
    // Channel 0 is 1,3,5,7,9: a ramp of 2 per sample; channel 1 is constant.
    assert.deepEqual(out.slice(0, 6), [5, Math.sqrt(8), 2, 1, 9, 9]);
    assert.deepEqual(out.slice(6), [7, 0, 0, 7, 7, 7]);
  });

  it('slides: the oldest value leaves when the window is full', () => {
    const window = new SlidingWindow(3, 1);
    [100, 1, 2, 3].forEach((value) => window.push([value]));
    const out: number[] = [];
    window.features(['mean', 'min'], out);
    assert.deepEqual(out, [2, 1]);
    assert.equal(window.full, true);
  });

  it('names features channel-major', () => {
    assert.deepEqual(featureNames(['a', 'b'], ['mean', 'std'], 5), ['a.mean', 'a.std', 'b.mean', 'b.std']);
    assert.deepEqual(featureNames(['a', 'b'], ['series', 'mean'], 3), ['a.t-2', 'a.t-1', 'a.t-0', 'a.mean', 'b.t-2', 'b.t-1', 'b.t-0', 'b.mean']);
    assert.equal(valuesPerChannel(['series', 'mean'], 3), 4);
  });

  it('gives the window itself as a series, oldest first, padded with the oldest value until full', () => {
    const window = new SlidingWindow(4, 2);
    const out: number[] = [];
    window.push([1, 10]);
    window.push([2, 20]);
    window.features(['series'], out);
    assert.deepEqual(out, [1, 1, 1, 2, 10, 10, 10, 20]);
    [3, 4, 5].forEach((value) => window.push([value, value * 10]));
    window.features(['series', 'last'], out);
    assert.deepEqual(out, [2, 3, 4, 5, 5, 20, 30, 40, 50, 50]);
  });
});

const cleanerSettings: CleanerSettings = {
  channels: ['pressure', 'flow'],
  limits: parseLimits(['pressure:0:10']),
  policies: { missing: 'impute', non_finite: 'impute', out_of_range: 'reject' },
  forwardFillLimit: 2,
};

describe('ReadingCleaner', () => {
  it('forward-fills a missing or non-finite value, up to the limit', () => {
    const cleaner = new ReadingCleaner(cleanerSettings);
    assert.deepEqual(Array.from((cleaner.clean({ pressure: 1, flow: 30 }) as { values: Float64Array }).values), [1, 30]);
    const first = cleaner.clean({ pressure: 2 });
    assert.ok(first.ok);
    assert.deepEqual(Array.from(first.values), [2, 30]);
    assert.deepEqual(first.imputed, [{ channel: 'flow', problem: 'missing' }]);
    const second = cleaner.clean({ pressure: 3, flow: 'NaN' });
    assert.ok(second.ok);
    assert.deepEqual(second.imputed, [{ channel: 'flow', problem: 'non_finite' }]);
    assert.deepEqual(cleaner.clean({ pressure: 4, flow: null }), { ok: false, reason: 'stale_imputation', channel: 'flow' });
    // A good value resets the run of imputations.
    assert.ok(cleaner.clean({ pressure: 4, flow: 31 }).ok);
    assert.ok(cleaner.clean({ pressure: 4 }).ok);
  });

  it('cannot impute before it has seen a good value', () => {
    const cleaner = new ReadingCleaner(cleanerSettings);
    assert.deepEqual(cleaner.clean({ pressure: 1 }), { ok: false, reason: 'stale_imputation', channel: 'flow' });
  });

  it('rejects out-of-range values and unknown channels, per policy', () => {
    const cleaner = new ReadingCleaner(cleanerSettings);
    assert.deepEqual(cleaner.clean({ pressure: 11, flow: 1 }), { ok: false, reason: 'out_of_range', channel: 'pressure' });
    assert.deepEqual(cleaner.clean({ pressure: 1, flow: 1, speed: 3 }), { ok: false, reason: 'unknown_channel', channel: 'speed' });
    const strict = new ReadingCleaner({ ...cleanerSettings, policies: { missing: 'reject', non_finite: 'reject', out_of_range: 'reject' } });
    assert.ok(strict.clean({ pressure: 1, flow: 1 }).ok);
    assert.deepEqual(strict.clean({ pressure: 1 }), { ok: false, reason: 'missing', channel: 'flow' });
    assert.deepEqual(strict.clean({ pressure: 'Infinity', flow: 1 }), { ok: false, reason: 'non_finite', channel: 'pressure' });
  });

  it('a rejected reading leaves no trace: what follows is cleaned as if it never came', () => {
    const cleaner = new ReadingCleaner(cleanerSettings);
    cleaner.clean({ pressure: 1, flow: 30 });
    cleaner.clean({ pressure: 50, flow: 99 });
    const next = cleaner.clean({ pressure: 2 });
    assert.ok(next.ok);
    assert.equal(next.values[1], 30, 'the rejected flow 99 must not become the fill value');
  });

  it('parses limits and names a bad entry', () => {
    assert.deepEqual(parseLimits(['x:-1:2.5']), { x: { min: -1, max: 2.5 } });
    assert.throws(() => parseLimits(['x:3:2']), /x:3:2/);
    assert.throws(() => parseLimits(['x:1']), /x:1/);
  });
});

describe('AssetFeaturePipeline', () => {
  const settings: FeatureSettings = {
    ...cleanerSettings,
    channels: ['pressure', 'flow'],
    features: ['mean', 'std'],
    windowSize: 3,
    scalerWarmup: 4,
  };

  it('marks warm-up until the scaler froze and the window filled, then standardises with frozen statistics', () => {
    const pipeline = new AssetFeaturePipeline(settings);
    const warmups = [1, 2, 3, 4].map((pressure) => {
      const result = pipeline.process({ pressure, flow: 10 * pressure });
      assert.ok(result.ok);
      return result.warmup;
    });
    assert.deepEqual(warmups, [true, true, true, true]);
    assert.equal(pipeline.scalerFrozen, true);
    const frozen = JSON.stringify(pipeline.scalerState());
    let last: FeatureResult | undefined;
    for (const pressure of [2, 3, 5]) last = pipeline.process({ pressure, flow: 25 });
    assert.ok(last?.ok && !last.warmup);
    assert.equal(JSON.stringify(pipeline.scalerState()), frozen, 'frozen statistics do not move');
    // Pressure 1..4 has mean 2.5 and std sqrt(1.25); the window holds 2, 3, 5 standardised.
    const z = [2, 3, 5].map((value) => (value - 2.5) / Math.sqrt(1.25));
    const mean = z.reduce((sum, value) => sum + value, 0) / 3;
    const std = Math.sqrt(z.reduce((sum, value) => sum + (value - mean) ** 2, 0) / 3);
    assert.ok(Math.abs((last.features[0] as number) - mean) < 1e-12);
    assert.ok(Math.abs((last.features[1] as number) - std) < 1e-12);
    assert.equal(last.features.length, 4);
  });

  it('resumes from persisted scaler statistics', () => {
    const first = new AssetFeaturePipeline(settings);
    for (let i = 0; i < 4; i += 1) first.process({ pressure: i, flow: 2 * i });
    const second = new AssetFeaturePipeline(settings, first.scalerState());
    assert.equal(second.scalerFrozen, true);
    // Once the restored pipeline's window has refilled, both standardise identically.
    const readings = [1, 2, 3].map((value) => ({ pressure: value, flow: value }));
    assert.deepEqual(
      readings.map((reading) => first.process(reading)).at(-1),
      readings.map((reading) => second.process(reading)).at(-1),
    );
  });
});
