/**
 * npm run train and npm run eval on the files a user has: a plain timestamp,value CSV, a labelled
 * CSV; and the first mistakes a user makes, each answered with one line naming the cause and the
 * fix, exit code 2, no stack trace. The commands run as the docs give them (docs/training.md), as processes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadBundle } from '@vigil/shared/model';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'vigil-csv-'));

function run(script: 'train-cli.ts' | 'eval-cli.ts' | 'score-cli.ts', args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, script === 'train-cli.ts' ? 'training/src' : 'evaluation/src', script), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A sensor sampled every minute: a daily rhythm plus noise; `step` rows from `from` shifted up. */
function writeSeries(name: string, rows: number, options: { from?: number; to?: number; label?: boolean; header?: string } = {}): string {
  let seed = 11;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2;
  const start = Date.UTC(2026, 5, 1);
  const lines = Array.from({ length: rows }, (_, row) => {
    const anomalous = options.from !== undefined && row >= options.from && row < (options.to ?? rows);
    const value = 20 + 3 * Math.sin((2 * Math.PI * row) / 1440) + 0.2 * noise() + (anomalous ? 4 : 0);
    const ts = new Date(start + row * 60_000).toISOString();
    return options.label ? `${ts},${value.toFixed(3)},${anomalous ? 1 : 0}` : `${ts},${value.toFixed(3)}`;
  });
  const path = join(dir, name);
  writeFileSync(path, `${options.header ?? (options.label ? 'timestamp,value,label' : 'timestamp,value')}\n${lines.join('\n')}\n`);
  return path;
}

describe('npm run train and npm run eval on plain CSV files', { timeout: 240_000 }, () => {
  it('trains the default detector on a plain timestamp,value CSV with no flags, its channel and period taken from the file', async () => {
    const csv = writeSeries('normal.csv', 3000);
    const out = join(dir, 'bundle');
    const { code, stdout, stderr } = run('train-cli.ts', ['--csv', csv, '--out', out]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /auto-detector/);
    assert.match(stdout, /channels: value/);
    const bundle = await loadBundle(out);
    assert.equal(bundle.manifest.kind, 'auto-detector');
    assert.deepEqual(bundle.manifest.featureSpec.channels, ['value']);
    assert.equal(bundle.detector?.samplePeriodMs, 60_000);

    // npm run score: the same bundle over a file with a step in it, offline, row by row.
    const watched = writeSeries('watched.csv', 3000, { from: 2500, to: 2700 });
    const rows = join(dir, 'scored.csv');
    const scored = run('score-cli.ts', ['--model', out, '--csv', watched, '--rows', rows]);
    assert.equal(scored.code, 0, scored.stderr);
    assert.match(scored.stdout, /3000 rows scored with detector .*auto-detector.*; [12] alarms? began: 2026-06-02T17:/);
    const lines = readFileSync(rows, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'timestamp,score,high,low,state');
    assert.equal(lines.length, 3001);
    assert.ok(lines.slice(2501, 2600).some((line) => line.endsWith(',anomalous')));
  });

  it('evaluates a labelled CSV, learning from its first rows or from a separate normal run, and writes per-row output', () => {
    const labelled = writeSeries('labelled.csv', 4000, { from: 3000, to: 3200, label: true });
    const out = join(dir, 'results');
    const rows = join(dir, 'rows.csv');
    const fromRows = run('eval-cli.ts', ['--csv', labelled, '--label-column', 'label', '--learn-rows', '2000', '--out', out, '--rows', rows]);
    assert.equal(fromRows.code, 0, fromRows.stderr);
    const result = JSON.parse(readFileSync(join(out, 'csv-eval.json'), 'utf8')) as { events: { windows: number; windowsFound: number }; mar: number };
    assert.deepEqual([result.events.windows, result.events.windowsFound], [1, 1], 'the one labelled step found');
    assert.ok(existsSync(join(out, 'csv-eval.md')));
    const perRow = readFileSync(rows, 'utf8').trim().split('\n');
    assert.equal(perRow[0], 'timestamp,surprise,level,alarm,state,label');
    assert.equal(perRow.length, 1 + 2000);
    // The step (rows 3000-3199 of the file, 1000-1199 watched) is flagged, the rows before it are not.
    assert.ok(perRow.slice(1, 1000).every((line) => line.split(',')[3] === '0' && line.split(',')[4] === 'normal'));
    assert.ok(perRow.slice(1001, 1200).some((line) => line.split(',')[4] === 'anomalous'));
    const normal = writeSeries('normal-run.csv', 2000);
    const fromFile = run('eval-cli.ts', ['--csv', labelled, '--label-column', 'label', '--learn-from', normal, '--out', out]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
  });

  it('answers each first mistake with one line naming the cause and the fix, and exit code 2', () => {
    const plain = writeSeries('plain.csv', 500);
    const labelled = writeSeries('labelled-2.csv', 500, { from: 400, label: true });
    const oddTime = writeSeries('odd-time.csv', 500, { header: 'when,value' });
    const cases: Array<[string, 'train-cli.ts' | 'eval-cli.ts', string[], RegExp]> = [
      ['a file that is not there', 'train-cli.ts', ['--csv', join(dir, 'missing.csv'), '--out', join(dir, 'x')], /cannot read .*missing\.csv/],
      ['no --out', 'train-cli.ts', ['--csv', plain], /usage: npm run train -- --csv/],
      ['a channel the file lacks', 'train-cli.ts', ['--csv', plain, '--out', join(dir, 'x'), '--channels', 'pressure'], /--channels names pressure, but the file's channels are value/],
      ['a time column by another name', 'train-cli.ts', ['--csv', oddTime, '--out', join(dir, 'x'), '--time-column', 'timestamp'], /no time column "timestamp"/],
      ['a wrong label column', 'eval-cli.ts', ['--csv', labelled, '--label-column', 'anomaly', '--learn-rows', '100'], /no label column "anomaly"; its columns are timestamp, value, label/],
      ['learning rows that hold anomalies', 'eval-cli.ts', ['--csv', labelled, '--label-column', 'label', '--learn-rows', '450'], /first 450 rows hold labelled anomalies/],
      ['no data set', 'eval-cli.ts', [], /give a data set: --skab/],
      ['an unknown flag', 'eval-cli.ts', ['--skab-folder', 'x'], /Unknown option '--skab-folder'/],
    ];
    for (const [what, script, args, expected] of cases) {
      const { code, stderr } = run(script, args);
      assert.equal(code, 2, `${what}: exit ${code}\n${stderr}`);
      assert.match(stderr, expected, what);
      assert.equal(stderr.trim().split('\n').length, 1, `${what}: one line, got:\n${stderr}`);
      assert.doesNotMatch(stderr, /\n\s+at /, `${what}: no stack trace`);
    }
  });
});
