import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveThreshold, initialThresholdState, type ThresholdSettings } from '../src/index.js';

const settings: ThresholdSettings = {
  warmupSamples: 50,
  alpha: 0.01,
  highSigmas: 5,
  lowSigmas: 3,
  enterK: 3,
  enterN: 5,
  exitK: 4,
  exitN: 4,
  maxDrift: 3,
};

/** Deterministic "normal" scores: log-score in a narrow band around log(0.01). */
function normalScore(i: number): number {
  return 0.01 * Math.exp(0.1 * Math.sin(i * 1.7));
}

function warmedUp(): AdaptiveThreshold {
  const threshold = new AdaptiveThreshold(settings, initialThresholdState(0));
  for (let i = 0; i < settings.warmupSamples; i += 1) threshold.decide(normalScore(i), i, true);
  return threshold;
}

describe('AdaptiveThreshold', () => {
  it('decides nothing during warm-up, then is normal, with marks above the normal scores', () => {
    const threshold = new AdaptiveThreshold(settings, initialThresholdState(0));
    for (let i = 0; i < settings.warmupSamples - 1; i += 1) assert.equal(threshold.decide(normalScore(i), i, true).state, 'warmup');
    const decision = threshold.decide(normalScore(49), 49, true);
    assert.equal(decision.state, 'normal');
    assert.equal(decision.changed, true);
    assert.ok(decision.low > 0.011 && decision.high > decision.low);
  });

  it('passes unscored samples through without learning from them', () => {
    const threshold = new AdaptiveThreshold(settings, initialThresholdState(0));
    for (let i = 0; i < 1000; i += 1) assert.equal(threshold.decide(0, i, false).state, 'warmup');
    assert.equal(threshold.state.count, 0);
  });

  it('enters anomalous only when k of the last n are above the high mark (persistence)', () => {
    const threshold = warmedUp();
    const high = threshold.marks().high;
    // Isolated spikes, never 3 in 5: no alarm.
    for (let i = 0; i < 40; i += 1) {
      const spike = i % 3 === 0 ? high * 10 : normalScore(i);
      assert.equal(threshold.decide(spike, 100 + i, true).state, 'normal', `sample ${i}`);
    }
    for (let i = 0; i < 5; i += 1) threshold.decide(normalScore(i), 150 + i, true);
    assert.equal(threshold.decide(high * 10, 200, true).state, 'normal');
    assert.equal(threshold.decide(high * 10, 201, true).state, 'normal');
    const decision = threshold.decide(high * 10, 202, true);
    assert.equal(decision.state, 'anomalous');
    assert.equal(decision.changed, true);
    assert.equal(decision.since, 202);
  });

  it('leaves anomalous only below the low mark (hysteresis), not merely below the high one', () => {
    const threshold = warmedUp();
    const { high, low } = threshold.marks();
    for (let i = 0; i < 3; i += 1) threshold.decide(high * 2, i, true);
    assert.equal(threshold.state.state, 'anomalous');
    const between = (high + low) / 2;
    for (let i = 0; i < 20; i += 1) assert.equal(threshold.decide(between, 10 + i, true).state, 'anomalous');
    for (let i = 0; i < 3; i += 1) assert.equal(threshold.decide(normalScore(i), 40 + i, true).state, 'anomalous');
    const recovered = threshold.decide(normalScore(3), 43, true);
    assert.equal(recovered.state, 'normal');
    assert.equal(recovered.changed, true);
  });

  it('learns nothing while anomalous: a long fault does not become the new normal', () => {
    const threshold = warmedUp();
    const before = threshold.marks();
    for (let i = 0; i < 5000; i += 1) threshold.decide(before.high * 3, i, true);
    assert.equal(threshold.state.state, 'anomalous');
    assert.deepEqual(threshold.marks(), before);
  });

  it('a fault that grows slowly cannot drag the threshold up ahead of itself', () => {
    const threshold = warmedUp();
    const start = threshold.marks();
    let score = normalScore(0);
    let state = 'normal';
    // Grows 1 % a sample: reaches 100x the normal score in ~460 samples.
    for (let i = 0; i < 2000 && state === 'normal'; i += 1) {
      score *= 1.01;
      state = threshold.decide(score, i, true).state;
    }
    assert.equal(state, 'anomalous');
    assert.ok(threshold.marks().high <= start.high * settings.maxDrift * 1.0001, `high mark ran from ${start.high} to ${threshold.marks().high}`);
    assert.ok(score < start.high * settings.maxDrift * 2, `detected only at ${score / start.high}x the first high mark`);
  });

  it('follows a slow benign drift of the normal scores', () => {
    const threshold = warmedUp();
    const start = threshold.marks().high;
    // Normal scores drift down by a factor of 3 over 3000 samples; the marks follow.
    for (let i = 0; i < 3000; i += 1) threshold.decide(normalScore(i) * Math.exp((-Math.log(3) * i) / 3000), i, true);
    assert.equal(threshold.state.state, 'normal');
    assert.ok(threshold.marks().high < start * 0.6);
  });

  it('resumes from persisted state exactly', () => {
    const threshold = warmedUp();
    const restored = new AdaptiveThreshold(settings, JSON.parse(JSON.stringify(threshold.state)));
    for (let i = 0; i < 100; i += 1) {
      assert.deepEqual(restored.decide(normalScore(i + 7), i, true), threshold.decide(normalScore(i + 7), i, true));
    }
  });
  describe('settle rule', () => {
    const settling: ThresholdSettings = { ...settings, settleFactor: 10 };
    /** A warmed threshold in an alarm at 1000x the high mark (log-level well above it). */
    function inAlarm(withSettings: ThresholdSettings): { threshold: AdaptiveThreshold; high: number } {
      const threshold = new AdaptiveThreshold(withSettings, initialThresholdState(0));
      for (let i = 0; i < withSettings.warmupSamples; i += 1) threshold.decide(normalScore(i), i, true);
      const high = threshold.marks().high;
      for (let i = 0; i < 10; i += 1) threshold.decide(high * 1000, 100 + i, true);
      assert.equal(threshold.state.state, 'anomalous');
      return { threshold, high };
    }

    it('ends an alarm whose scores fall a settleFactor below its level, though they stay above the high mark', () => {
      const { threshold, high } = inAlarm(settling);
      // 1000x -> 20x the high mark: a 50x fall, still far above both marks.
      const states = Array.from({ length: settling.exitN }, (_, i) => threshold.decide(high * 20, 200 + i, true));
      assert.deepEqual(states.slice(0, -1).map((d) => d.state), Array(settling.exitN - 1).fill('anomalous'));
      const settled = states.at(-1);
      assert.equal(settled?.state, 'normal');
      assert.equal(settled?.changed, true);
      assert.equal(settled?.since, 200 + settling.exitN - 1);
      // The settled level is the floor now: the entry mark is settleFactor above it, and it holds.
      assert.ok(Math.abs((settled?.high ?? 0) / (high * 20 * 10) - 1) < 1e-6, `entry mark ${settled?.high}`);
      for (let i = 0; i < 200; i += 1) assert.equal(threshold.decide(high * 20 * (1 + 0.5 * Math.sin(i)), 300 + i, true).state, 'normal');
    });

    it('without the rule the same fall keeps the alarm on', () => {
      const { threshold, high } = inAlarm(settings);
      for (let i = 0; i < 200; i += 1) assert.equal(threshold.decide(high * 20, 200 + i, true).state, 'anomalous');
    });

    it('keeps an alarm whose scores fall by less than the factor', () => {
      const { threshold, high } = inAlarm(settling);
      for (let i = 0; i < 200; i += 1) assert.equal(threshold.decide(high * 1000 * (i % 2 === 0 ? 0.15 : 1), 200 + i, true).state, 'anomalous');
    });

    it('alarms again on a new rise of the factor above the settled level', () => {
      const { threshold, high } = inAlarm(settling);
      for (let i = 0; i < settling.exitN; i += 1) threshold.decide(high * 20, 200 + i, true);
      assert.equal(threshold.state.state, 'normal');
      let state = 'normal';
      for (let i = 0; i < settling.enterN && state === 'normal'; i += 1) state = threshold.decide(high * 20 * 11, 300 + i, true).state;
      assert.equal(state, 'anomalous');
    });

    it('drops the floor once the scores are back below the low mark: the usual marks apply again', () => {
      const { threshold, high } = inAlarm(settling);
      for (let i = 0; i < settling.exitN; i += 1) threshold.decide(high * 20, 200 + i, true);
      for (let i = 0; i < settling.exitN; i += 1) threshold.decide(normalScore(i), 300 + i, true);
      assert.equal(threshold.state.settledLevel, undefined);
      assert.ok(threshold.decide(normalScore(0), 400, true).high < high * 1.01);
      let state = 'normal';
      for (let i = 0; i < settling.enterN && state === 'normal'; i += 1) state = threshold.decide(high * 2, 500 + i, true).state;
      assert.equal(state, 'anomalous');
    });

    it('keeps its alarm level and floor across a restart from persisted state', () => {
      const { threshold, high } = inAlarm(settling);
      const restored = new AdaptiveThreshold(settling, JSON.parse(JSON.stringify(threshold.state)));
      for (let i = 0; i < 3 * settling.exitN; i += 1) {
        assert.deepEqual(restored.decide(high * 20, 200 + i, true), threshold.decide(high * 20, 200 + i, true));
      }
      assert.equal(restored.state.state, 'normal');
    });
  });
});
