/**
 * Reads a folder in the Numenta Anomaly Benchmark's layout, in place: `data/<category>/<file>.csv`
 * (`timestamp,value`) and `windows.json`, mapping `category/file.csv` to its anomaly windows as
 * `[start, end]` timestamps. Only files that windows.json names are read (it is the label set).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvText, parseTimestamp } from '@vigil/shared/runtime';

export interface NabFile {
  name: string;
  timestamps: number[];
  values: number[];
  /** Anomaly windows as row index ranges, inclusive. */
  windows: Array<{ start: number; end: number }>;
}

export function loadNab(folder: string): NabFile[] {
  const windowsPath = join(folder, 'windows.json');
  if (!existsSync(windowsPath)) throw new Error(`${folder} is not in NAB's layout: no windows.json (expected data/<category>/<file>.csv and windows.json)`);
  const labels = JSON.parse(readFileSync(windowsPath, 'utf8')) as Record<string, Array<[string, string]>>;
  return Object.keys(labels)
    .sort()
    .map((name) => {
      const path = join(folder, 'data', name);
      if (!existsSync(path)) throw new Error(`windows.json names ${name}, but ${path} does not exist`);
      const { rows, rejected } = parseCsvText(readFileSync(path, 'utf8'), { timeColumn: 'timestamp', columnMap: {} });
      if (rejected > 0) throw new Error(`${name}: ${rejected} malformed rows`);
      const timestamps = rows.map((row) => row.ts);
      const windows = (labels[name] ?? []).map(([start, end]) => {
        const from = parseTimestamp(start.replace(/\.\d+$/, ''));
        const to = parseTimestamp(end.replace(/\.\d+$/, ''));
        const first = timestamps.findIndex((ts) => ts >= from);
        const after = timestamps.findIndex((ts) => ts > to);
        return { start: first < 0 ? timestamps.length : first, end: (after < 0 ? timestamps.length : after) - 1 };
      });
      return { name, timestamps, values: rows.map((row) => Object.values(row.channels)[0] as number), windows };
    });
}

/** NAB's probationary period: the rows a detector learns from, never scored. */
export function nabProbation(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}
