/**
 * A generic labelled CSV: a time column, sensor columns, and a label column (1 = anomalous). How
 * most plants' historian exports and many benchmarks look.
 */
import { readFileSync } from 'node:fs';
import { detectDelimiter, findTimeColumn, parseCsvText } from '@vigil/shared/runtime';

export interface LabelledCsv {
  name: string;
  channels: string[];
  readings: Array<Record<string, number>>;
  timestamps: number[];
  labels: boolean[];
}

/**
 * Reads the file; `labelColumn` absent means an unlabelled file (a normal run to learn from).
 * Every problem is one Error whose message names the cause and the fix.
 */
export function loadLabelledCsv(path: string, labelColumn?: string, timeColumn?: string): LabelledCsv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  const headerLine = text.split(/\r?\n/, 1)[0] ?? '';
  const header = headerLine.replace(/^\uFEFF/, '').split(detectDelimiter(headerLine)).map((name) => name.trim());
  if (labelColumn !== undefined && !header.includes(labelColumn)) {
    throw new Error(`${path} has no label column "${labelColumn}"; its columns are ${header.join(', ')} (name it with --label-column)`);
  }
  const time = timeColumn ?? findTimeColumn(headerLine);
  let parsed: ReturnType<typeof parseCsvText>;
  try {
    parsed = parseCsvText(text, { timeColumn: time, columnMap: {} });
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}${timeColumn ? '' : ' (name the time column with --time-column)'}`);
  }
  if (parsed.rows.length === 0) throw new Error(`${path} has no readable rows (${parsed.rejected} malformed)`);
  const labelIndex = labelColumn === undefined ? -1 : header.indexOf(labelColumn);
  const channels = Object.keys(parsed.rows[0]?.channels ?? {}).filter((channel) => channel !== labelColumn);
  return {
    name: path.split('/').at(-1) ?? path,
    channels,
    readings: parsed.rows.map((row) => Object.fromEntries(channels.map((channel) => [channel, row.channels[channel] as number]))),
    timestamps: parsed.rows.map((row) => row.ts),
    labels: parsed.rows.map((row) => labelIndex >= 0 && Number(row.line[labelIndex]) === 1),
  };
}
