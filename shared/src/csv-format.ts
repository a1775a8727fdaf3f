/**
 * CSV parsing for replay: the SKAB format (`;`-separated, a `datetime` column, eight sensor
 * columns and label columns) and generic CSV with a column map. Pure functions, no I/O.
 */
import { DATE_RANGE_MS } from './sensor-time.js';

/** SKAB's sensor columns mapped to the simulator's channel names, so one model serves both. */
export const SKAB_COLUMN_MAP: Record<string, string> = {
  Accelerometer1RMS: 'vibration1',
  Accelerometer2RMS: 'vibration2',
  Current: 'current',
  Pressure: 'pressure',
  Temperature: 'motorTemperature',
  Thermocouple: 'fluidTemperature',
  Voltage: 'voltage',
  'Volume Flow RateRMS': 'flow',
};

/** Columns that are labels, not sensors: never fed to the model. */
export const LABEL_COLUMNS = new Set(['anomaly', 'changepoint']);

export interface CsvLayout {
  delimiter: string;
  timeIndex: number;
  /** Column index → channel name, for the columns that are read. */
  channelColumns: Array<{ index: number; channel: string }>;
  columnCount: number;
}

export interface CsvLayoutOptions {
  timeColumn: string;
  /** source column → channel; empty means SKAB's map when the header is SKAB's, else identity. */
  columnMap: Record<string, string>;
  delimiter?: string;
}

const TIME_COLUMN_NAMES = ['timestamp', 'datetime', 'time', 'date', 'ts'];

/** The time column of a header by its usual names, else the first column. */
export function findTimeColumn(headerLine: string): string {
  const names = headerLine.replace(/^\uFEFF/, '').split(detectDelimiter(headerLine)).map((name) => name.trim());
  return names.find((name) => TIME_COLUMN_NAMES.includes(name.toLowerCase())) ?? names[0] ?? 'timestamp';
}

export function detectDelimiter(headerLine: string): string {
  const semicolons = headerLine.split(';').length;
  const commas = headerLine.split(',').length;
  return semicolons > commas ? ';' : ',';
}

export function parseColumnMap(entries: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const separator = entry.lastIndexOf('=');
    if (separator <= 0 || separator === entry.length - 1) {
      throw new Error(`column map entry "${entry}" is not source=channel`);
    }
    map[entry.slice(0, separator).trim()] = entry.slice(separator + 1).trim();
  }
  return map;
}

export function layoutFromHeader(headerLine: string, options: CsvLayoutOptions): CsvLayout {
  const delimiter = options.delimiter || detectDelimiter(headerLine);
  const header = headerLine.replace(/^\uFEFF/, '').split(delimiter).map((name) => name.trim());
  const timeIndex = header.indexOf(options.timeColumn);
  if (timeIndex < 0) throw new Error(`CSV header has no time column "${options.timeColumn}": ${header.join(delimiter)}`);
  const isSkab = Object.keys(SKAB_COLUMN_MAP).every((column) => header.includes(column));
  const explicitMap = Object.keys(options.columnMap).length > 0;
  const map = explicitMap ? options.columnMap : isSkab ? SKAB_COLUMN_MAP : undefined;
  const channelColumns: CsvLayout['channelColumns'] = [];
  header.forEach((name, index) => {
    if (index === timeIndex || LABEL_COLUMNS.has(name)) return;
    const channel = map ? map[name] : name;
    if (channel) channelColumns.push({ index, channel });
  });
  if (explicitMap) {
    const missing = Object.keys(options.columnMap).filter((column) => !header.includes(column));
    if (missing.length > 0) throw new Error(`CSV header lacks mapped columns: ${missing.join(', ')}`);
  }
  if (channelColumns.length === 0) throw new Error('CSV has no sensor columns to read');
  return { delimiter, timeIndex, channelColumns, columnCount: header.length };
}

/**
 * Parses a timestamp: epoch milliseconds or seconds as a number, or an ISO-like date. SKAB's
 * `YYYY-MM-DD hh:mm:ss` carries no zone; it is read as UTC so replays are the same everywhere.
 */
export function parseTimestamp(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    // Seconds, milliseconds, microseconds or nanoseconds since 1970, by size (as sensor-time.ts).
    const value = Number(trimmed);
    const ms = value < 1e11 ? value * 1000 : value < 1e14 ? value : value < 1e17 ? value / 1e3 : value < 1e20 ? value / 1e6 : Number.NaN;
    return Math.abs(ms) <= DATE_RANGE_MS ? ms : Number.NaN;
  }
  const iso = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed) ? `${trimmed.replace(' ', 'T')}Z` : trimmed;
  return Date.parse(iso);
}

export type CsvRow = { ts: number; channels: Record<string, number> } | { error: 'csv_row' | 'csv_time'; detail: string };

export function parseRow(line: string, layout: CsvLayout): CsvRow {
  const cells = line.split(layout.delimiter);
  if (cells.length !== layout.columnCount) {
    return { error: 'csv_row', detail: `${cells.length} cells, expected ${layout.columnCount}` };
  }
  const ts = parseTimestamp(cells[layout.timeIndex] ?? '');
  if (!Number.isFinite(ts)) return { error: 'csv_time', detail: `bad time "${cells[layout.timeIndex]}"` };
  const channels: Record<string, number> = {};
  for (const { index, channel } of layout.channelColumns) {
    const cell = (cells[index] ?? '').trim();
    // An empty or non-numeric cell is a missing reading, not a bad row: the preprocessor imputes.
    // Defined, not assigned: a column called __proto__ stays a channel, never a prototype.
    Object.defineProperty(channels, channel, { value: cell === '' ? Number.NaN : Number(cell), enumerable: true, writable: true, configurable: true });
  }
  return { ts, channels };
}

/** Reads a whole (small) CSV file's sensor rows: for training and evaluation, not for replay. */
export function parseCsvText(text: string, options: CsvLayoutOptions): { rows: Array<{ ts: number; channels: Record<string, number>; line: string[] }>; header: string[]; rejected: number } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const headerLine = lines[0];
  if (headerLine === undefined) throw new Error('CSV file is empty');
  const layout = layoutFromHeader(headerLine, options);
  const header = headerLine.replace(/^\uFEFF/, '').split(layout.delimiter).map((name) => name.trim());
  const rows: Array<{ ts: number; channels: Record<string, number>; line: string[] }> = [];
  let rejected = 0;
  for (const line of lines.slice(1)) {
    const row = parseRow(line, layout);
    if ('error' in row) rejected += 1;
    else rows.push({ ...row, line: line.split(layout.delimiter) });
  }
  return { rows, header, rejected };
}
