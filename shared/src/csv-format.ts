/**
 * CSV parsing for replay: the SKAB format (`;`-separated, a `datetime` column, eight sensor
 * columns and label columns) and generic CSV with a column map. Pure functions, no I/O.
 *
 * Fields follow RFC 4180 (quoted fields holding the delimiter, doubled quotes, line breaks), read
 * by csv-parse: an export from a historian or a spreadsheet names columns "Temperature, °C".
 */
import { parse } from 'csv-parse/sync';
import { DATE_RANGE_MS } from './sensor-time.js';

/** The options a CSV stream reader needs to read records the way this module does. */
export function csvParseOptions(delimiter: string) {
  return { delimiter, bom: true, relax_quotes: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_empty_values: true } as const;
}

/** One line's fields, quotes honoured; undefined for a line that is not CSV (a quote never closed). */
export function splitRecord(line: string, delimiter: string): string[] | undefined {
  try {
    const [record] = parse(line, csvParseOptions(delimiter)) as string[][];
    return record ?? [];
  } catch {
    return undefined;
  }
}

function headerNames(headerLine: string, delimiter: string): string[] {
  return (splitRecord(headerLine.replace(/^\uFEFF/, ''), delimiter) ?? []).map((name) => name.trim());
}

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
  const names = headerNames(headerLine, detectDelimiter(headerLine));
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
  return layoutFromFields(headerNames(headerLine, delimiter), delimiter, options);
}

/** The layout from a header already split into fields. */
export function layoutFromFields(header: string[], delimiter: string, options: CsvLayoutOptions): CsvLayout {
  const timeIndex = header.indexOf(options.timeColumn);
  if (timeIndex < 0) throw new Error(`CSV header has no time column "${options.timeColumn}": ${header.join(delimiter)}`);
  const isSkab = Object.keys(SKAB_COLUMN_MAP).every((column) => header.includes(column));
  const explicitMap = Object.keys(options.columnMap).length > 0;
  const map = explicitMap ? options.columnMap : isSkab ? SKAB_COLUMN_MAP : undefined;
  const channelColumns: CsvLayout['channelColumns'] = [];
  header.forEach((name, index) => {
    if (index === timeIndex || LABEL_COLUMNS.has(name)) return;
    // Own keys only: a column called "constructor" is not the map's constructor.
    const channel = map ? (Object.hasOwn(map, name) ? map[name] : undefined) : name;
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
  const cells = splitRecord(line, layout.delimiter);
  return cells === undefined ? { error: 'csv_row', detail: 'a quote that never closes' } : parseRecord(cells, layout);
}

/** A row already split into fields. */
export function parseRecord(cells: string[], layout: CsvLayout): CsvRow {
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
  const headerLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  if (headerLine.trim() === '') throw new Error('CSV file is empty');
  const delimiter = options.delimiter || detectDelimiter(headerLine);
  let records: string[][];
  try {
    records = parse(text, csvParseOptions(delimiter)) as string[][];
  } catch (error) {
    throw new Error(`CSV file is not valid CSV: ${error instanceof Error ? error.message : String(error)}`);
  }
  const header = (records[0] ?? []).map((name) => name.trim());
  const layout = layoutFromFields(header, delimiter, options);
  const rows: Array<{ ts: number; channels: Record<string, number>; line: string[] }> = [];
  let rejected = 0;
  for (const cells of records.slice(1)) {
    const row = parseRecord(cells, layout);
    if ('error' in row) rejected += 1;
    else rows.push({ ...row, line: cells });
  }
  return { rows, header, rejected };
}
