import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addConfusion, confusionOf, nabCounts, nabScore, rateScores } from '../src/eval/detection-metrics.js';

describe('evaluation arithmetic', () => {
  it('counts TP/FP/FN/TN and derives F1, FAR and MAR from a hand-made case', () => {
    const labels = [false, false, false, false, true, true, true, true, false, false];
    const predicted = [false, true, false, false, false, true, true, true, true, false];
    const confusion = confusionOf(labels, predicted);
    assert.deepEqual(confusion, { tp: 3, fp: 2, fn: 1, tn: 4 });
    const { f1, far, mar } = rateScores(confusion);
    // precision 3/5, recall 3/4: F1 = 2 * 0.6 * 0.75 / 1.35
    assert.ok(Math.abs(f1 - (2 * 0.6 * 0.75) / 1.35) < 1e-12);
    assert.equal(far, (100 * 2) / 6);
    assert.equal(mar, 25);
  });

  it('sums counts over files before dividing (the leaderboard protocol)', () => {
    const total = addConfusion({ tp: 1, fp: 0, fn: 0, tn: 9 }, { tp: 0, fp: 0, fn: 10, tn: 0 });
    assert.deepEqual(total, { tp: 1, fp: 0, fn: 10, tn: 9 });
    assert.ok(Math.abs(rateScores(total).mar - (100 * 10) / 11) < 1e-12);
  });

  it('flagging every row gives F1 ~0.70 on SKAB-like balance with FAR 100 %', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => i < 537);
    const scores = rateScores(confusionOf(labels, labels.map(() => true)));
    assert.ok(Math.abs(scores.f1 - 0.6988) < 0.001);
    assert.equal(scores.far, 100);
  });

  it('scores changepoint detection NAB-style: 100 perfect, 0 silent, early beats late', () => {
    // Two changepoints in 1,000 rows: windows of 10 % / 2 = 50 rows, centred: [275, 325], [675, 725].
    assert.equal(nabScore(nabCounts(1000, [300, 700], [275, 675])), 100);
    assert.equal(nabScore(nabCounts(1000, [300, 700], [])), 0);
    // One changepoint: a window of 100 rows, [250, 350].
    const early = nabScore(nabCounts(1000, [300], [260]));
    const late = nabScore(nabCounts(1000, [300], [340]));
    assert.ok(early > late && late > 0, `early ${early}, late ${late}`);
    assert.ok(nabScore(nabCounts(1000, [300], [900, 260])) < early, 'a false alarm costs');
    assert.ok(nabScore(nabCounts(1000, [300], [100])) < 0, 'only a false alarm: worse than silence');
  });
});
