import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadNab, nabProbation } from '../src/nab-dataset.js';
import { nabFileScore, nabNormalised, scaledSigmoid } from '../src/nab-score.js';
import { evaluateNabDefault } from '../src/default-evaluation.js';

describe("NAB's standard score, by NAB's rules", () => {
  // One window of 101 rows, [400, 500], in a file whose first 150 rows are probationary.
  const window = [{ start: 400, end: 500 }];

  it('rewards a detection at the start of a window ~+1, at its end 0, and early beats late', () => {
    assert.ok(Math.abs(nabFileScore(window, [400], 150).score - scaledSigmoid(-1)) < 1e-12);
    assert.ok(Math.abs(scaledSigmoid(-1) - 0.9866) < 1e-4, 'the left edge is worth 2 sigmoid(5) - 1');
    assert.ok(Math.abs(nabFileScore(window, [500], 150).score) < 1e-12, 'the right edge is worth 0');
    const early = nabFileScore(window, [420], 150).score;
    const late = nabFileScore(window, [480], 150).score;
    assert.ok(early > late && late > 0, `early ${early}, late ${late}`);
  });

  it('counts only the first detection in a window', () => {
    assert.equal(nabFileScore(window, [420, 430, 499], 150).score, nabFileScore(window, [420], 150).score);
    assert.equal(nabFileScore(window, [420, 430, 499], 150).falsePositives, 0);
  });

  it('costs -1 for a missed window, -0.11 for a false alarm far from any, less for one just after a window', () => {
    assert.equal(nabFileScore(window, [], 150).score, -1);
    const before = nabFileScore(window, [200], 150);
    assert.ok(Math.abs(before.score - (-1 - 0.11)) < 1e-12, 'a missed window and a false alarm with no window before it: the full -0.11');
    const justAfter = nabFileScore(window, [420, 505], 150).score - nabFileScore(window, [420], 150).score;
    const farAfter = nabFileScore(window, [420, 900], 150).score - nabFileScore(window, [420], 150).score;
    assert.ok(justAfter < 0 && justAfter > farAfter && farAfter >= -0.11 - 1e-12, `just after ${justAfter}, far after ${farAfter}`);
  });

  it('does not score detections in the probationary period, and normalises as NAB does: 0 never fires, 100 perfect', () => {
    assert.equal(nabFileScore(window, [100], 150).score, -1);
    assert.equal(nabNormalised([nabFileScore(window, [], 150)]), 0);
    // NAB's perfect is +1 a window; the earliest possible detection is worth 0.9866 of it.
    assert.ok(Math.abs(nabNormalised([nabFileScore(window, [400], 150)]) - 100 * (scaledSigmoid(-1) + 1) / 2) < 1e-9);
    assert.equal(nabProbation(4032), 604);
    assert.equal(nabProbation(10_000), 750);
  });
});

describe('a folder in NAB layout, through the default detector', () => {
  it('reads windows.json and the data, and counts each alarm once, where it begins: its end is no detection', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'vigil-nab-'));
    await mkdir(join(folder, 'data', 'made'), { recursive: true });
    const start = Date.UTC(2026, 0, 1);
    const stamp = (row: number) => new Date(start + row * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    // 2,000 rows of a noisy level; rows 1,500-1,599 step up by ten spreads, then back.
    let seed = 7;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2;
    const rows = Array.from({ length: 2000 }, (_, row) => `${stamp(row)},${(50 + noise() + (row >= 1500 && row < 1600 ? 10 : 0)).toFixed(3)}`);
    await writeFile(join(folder, 'data', 'made', 'step.csv'), `timestamp,value\n${rows.join('\n')}\n`);
    await writeFile(join(folder, 'windows.json'), JSON.stringify({ 'made/step.csv': [[`${stamp(1450)}.000000`, `${stamp(1650)}.000000`]] }));
    const files = loadNab(folder);
    assert.deepEqual(files[0]?.windows, [{ start: 1450, end: 1650 }]);
    const result = evaluateNabDefault(files);
    const file = result.files[0]!;
    assert.equal(file.windowsFound, 1);
    // The step up raises one alarm; the step down ends it (and may raise one more, as a jump
    // back): never more detections than alarm beginnings, and the alarm's end is not one.
    assert.ok(file.falsePositives <= 1, `${file.falsePositives} false alarms`);
    assert.ok(file.delays[0]! >= 50 && file.delays[0]! <= 52, `detected at the step, ${file.delays[0]} rows into the window`);
    assert.ok(result.score > 80);
  });

  it('says what is wrong with a folder that is not in NAB layout', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'vigil-nab-'));
    assert.throws(() => loadNab(folder), /not in NAB's layout: no windows.json/);
  });
});
