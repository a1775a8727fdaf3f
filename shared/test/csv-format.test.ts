import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layoutFromHeader, parseColumnMap, parseCsvText, parseRow, parseTimestamp, SKAB_COLUMN_MAP } from '../src/index.js';

// The SKAB layout, built from the column map (no SKAB data in the project; the row below is made up).
const SKAB_HEADER = ['datetime', ...Object.keys(SKAB_COLUMN_MAP), 'anomaly', 'changepoint'].join(';');

describe('CSV format', () => {
  it('reads the SKAB layout with the pump channel names and without the label columns', () => {
    const layout = layoutFromHeader(SKAB_HEADER, { timeColumn: 'datetime', columnMap: {} });
    assert.equal(layout.delimiter, ';');
    assert.deepEqual(
      layout.channelColumns.map((column) => column.channel),
      ['vibration1', 'vibration2', 'current', 'pressure', 'motorTemperature', 'fluidTemperature', 'voltage', 'flow'],
    );
    const row = parseRow('2020-03-09 10:14:33;0.02;0.04;1.5;0.3;70.1;24.9;230.5;32.0;0.0;0.0', layout);
    assert.ok(!('error' in row));
    assert.equal(row.ts, Date.UTC(2020, 2, 9, 10, 14, 33));
    assert.equal(row.channels.flow, 32);
    assert.equal(Object.keys(row.channels).length, 8);
  });

  it('reads generic CSV by its header, or through a column map', () => {
    const plain = layoutFromHeader('time,a,b', { timeColumn: 'time', columnMap: {} });
    assert.deepEqual(plain.channelColumns.map((column) => column.channel), ['a', 'b']);
    const mapped = layoutFromHeader('time,P1,F1,junk', { timeColumn: 'time', columnMap: parseColumnMap(['P1=pressure', 'F1=flow']) });
    assert.deepEqual(mapped.channelColumns.map((column) => column.channel), ['pressure', 'flow']);
    assert.throws(() => layoutFromHeader('time,P1', { timeColumn: 'time', columnMap: { P9: 'x' } }), /P9/);
    assert.throws(() => layoutFromHeader('a,b', { timeColumn: 'time', columnMap: {} }), /time column/);
    assert.throws(() => parseColumnMap(['nonsense']), /source=channel/);
    // A column called __proto__ is a channel like any other: an own property, never a prototype.
    const odd = parseRow('1700000000,1,2', layoutFromHeader('time,__proto__,b', { timeColumn: 'time', columnMap: {} }));
    assert.ok(!('error' in odd));
    assert.deepEqual(Object.keys(odd.channels), ['__proto__', 'b']);
    assert.equal(Object.getPrototypeOf(odd.channels), Object.prototype);
  });

  it('refuses malformed rows with a reason, and keeps bad cells as missing values', () => {
    const layout = layoutFromHeader('time,a,b', { timeColumn: 'time', columnMap: {} });
    assert.deepEqual(parseRow('1,2', layout), { error: 'csv_row', detail: '2 cells, expected 3' });
    assert.equal((parseRow('yesterday,1,2', layout) as { error: string }).error, 'csv_time');
    const row = parseRow('1700000000,abc,', layout);
    assert.ok(!('error' in row));
    assert.ok(Number.isNaN(row.channels.a) && Number.isNaN(row.channels.b));
  });

  it('follows RFC 4180: quoted fields holding the delimiter, doubled quotes and line breaks', () => {
    const header = 'time,"Temperature, °C","Pressure ""P1""",note';
    const layout = layoutFromHeader(header, { timeColumn: 'time', columnMap: { 'Temperature, °C': 'motorTemperature', 'Pressure "P1"': 'pressure' } });
    assert.deepEqual(layout.channelColumns.map((column) => column.channel), ['motorTemperature', 'pressure']);
    assert.equal(layout.columnCount, 4);
    const row = parseRow('1700000000,"71.5","2.25","valve 3, open"', layout);
    assert.ok(!('error' in row));
    assert.deepEqual(row.channels, { motorTemperature: 71.5, pressure: 2.25 });
    assert.deepEqual(parseRow('1700000000,"71.5,2.25', layout), { error: 'csv_row', detail: 'a quote that never closes' });
    const file = parseCsvText(`${header}\r\n1700000000,70,2,"first line\r\nsecond line"\r\n1700000001,71,2.1,plain\r\n`, { timeColumn: 'time', columnMap: { 'Temperature, °C': 'motorTemperature' } });
    assert.deepEqual(file.rows.map((entry) => entry.channels.motorTemperature), [70, 71], 'a line break inside quotes is one record');
    assert.equal(file.rejected, 0);
  });

  it('parses epoch seconds, epoch milliseconds and ISO times', () => {
    assert.equal(parseTimestamp('1700000000'), 1_700_000_000_000);
    assert.equal(parseTimestamp('1700000000123'), 1_700_000_000_123);
    assert.equal(parseTimestamp('2026-01-01T00:00:00.500Z'), Date.UTC(2026, 0, 1, 0, 0, 0, 500));
  });

  it('reads a whole file, counting the rows it had to skip', () => {
    const { rows, rejected } = parseCsvText('time,a\n1,1\n2\n3,3\n', { timeColumn: 'time', columnMap: {} });
    assert.equal(rows.length, 2);
    assert.equal(rejected, 1);
  });
});
