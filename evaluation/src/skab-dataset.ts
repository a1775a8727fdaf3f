/**
 * Reads the SKAB benchmark from its folder, in place: the data is GPL-3.0 and never copied into
 * this project. The 34 labelled files are other/, valve1/ and valve2/; anomaly-free/ is not
 * scored by the leaderboard protocol.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvText } from '@vigil/shared/runtime';

export const SKAB_LABELLED_FOLDERS = ['other', 'valve1', 'valve2'];

export interface SkabFile {
  name: string;
  readings: Array<Record<string, number>>;
  /** Sensor time of each reading, ms since the epoch. */
  timestamps: number[];
  anomaly: boolean[];
  changepoint: boolean[];
}

export function loadSkab(folder: string): SkabFile[] {
  const files: SkabFile[] = [];
  for (const subfolder of SKAB_LABELLED_FOLDERS) {
    const names = readdirSync(join(folder, subfolder))
      .filter((name) => name.endsWith('.csv'))
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    for (const name of names) files.push(loadSkabFile(join(folder, subfolder, name), `${subfolder}/${name}`));
  }
  if (files.length === 0) throw new Error(`no SKAB files under ${folder} (expected ${SKAB_LABELLED_FOLDERS.join(', ')})`);
  return files;
}

function loadSkabFile(path: string, name: string): SkabFile {
  const { rows, header, rejected } = parseCsvText(readFileSync(path, 'utf8'), { timeColumn: 'datetime', columnMap: {} });
  if (rejected > 0) throw new Error(`${name}: ${rejected} malformed rows`);
  const anomalyIndex = header.indexOf('anomaly');
  const changepointIndex = header.indexOf('changepoint');
  if (anomalyIndex < 0 || changepointIndex < 0) throw new Error(`${name}: no anomaly/changepoint columns`);
  return {
    name,
    readings: rows.map((row) => row.channels),
    timestamps: rows.map((row) => row.ts),
    anomaly: rows.map((row) => Number(row.line[anomalyIndex]) === 1),
    changepoint: rows.map((row) => Number(row.line[changepointIndex]) === 1),
  };
}
