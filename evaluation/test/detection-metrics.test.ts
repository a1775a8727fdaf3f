import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addConfusion, confusionOf, nabCounts, nabScore, rateScores } from '../src/detection-metrics.js';
import { HOLDOUT_BLOCK_ROWS, splitTrainingRows } from '../src/skab-evaluation.js';

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

  it('holds out every fourth block of the training rows, spread over the period, purging windows that reach into one', () => {
    const rows = Array.from({ length: 391 }, (_, index) => [index]);
    const windowSize = 5;
    const { fitted, heldOut } = splitTrainingRows(rows, 0.25, windowSize);
    const fittedIndices = fitted.map((row) => row[0] as number);
    const heldIndices = heldOut.map((row) => row[0] as number);
    // Blocks 3, 7, 11, 15, 19 of 20 rows: the threshold's rows reach from the first quarter to the last.
    assert.equal(heldIndices[0], 3 * HOLDOUT_BLOCK_ROWS);
    assert.ok((heldIndices.at(-1) as number) >= 380);
    assert.equal(heldIndices.length, 5 * HOLDOUT_BLOCK_ROWS - (400 - 391));
    assert.ok(fittedIndices.at(-1) === 379 && fittedIndices[0] === 0, 'the model sees the whole period too');
    // No row is in both, and no fitted row's window (itself and the 4 before) touches a held-out row.
    const held = new Set(heldIndices);
    for (const index of fittedIndices) {
      for (let back = 0; back < windowSize; back += 1) assert.ok(!held.has(index - back), `row ${index} reads held-out row ${index - back}`);
    }
    // Only the purged rows are in neither: windowSize - 1 after each held-out block.
    assert.equal(rows.length - fitted.length - heldOut.length, 4 * (windowSize - 1));
  });
});
