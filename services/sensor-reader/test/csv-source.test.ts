/**
 * The CSV source on files as historians and spreadsheets export them (RFC 4180 quoting), read
 * from disk as a stream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CsvSource } from '../src/csv-source.js';
import type { RawSample } from '../src/sample-source.js';

describe('CSV source', () => {
  it('streams quoted fields, line breaks inside quotes and a BOM, and counts the record that is not CSV', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-csv-')), 'export.csv');
    writeFileSync(
      path,
      [
        '\uFEFFtime,"Temperature, °C","Pressure ""P1""",comment',
        '1700000000,70.5,2.0,"operator: ""all fine"""',
        '1700000001,71.0,2.1,"two',
        'lines"',
        '1700000002,71.5,"2,2",',
        '1700000003,72.0,2.3,ok',
        '1700000004,"72.5,2.4,never closed',
        '',
      ].join('\r\n'),
    );
    const source = new CsvSource({
      path,
      asset: 'press-1',
      speed: 0,
      loop: false,
      restamp: false,
      timeColumn: 'time',
      columnMap: { 'Temperature, °C': 'temperature', 'Pressure "P1"': 'pressure' },
    });
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await source.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    await source.finished;
    assert.deepEqual(
      samples.map((sample) => [sample.ts, sample.channels.temperature, sample.channels.pressure]),
      [
        [1_700_000_000_000, 70.5, 2],
        [1_700_000_001_000, 71, 2.1],
        [1_700_000_002_000, 71.5, Number.NaN],
        [1_700_000_003_000, 72, 2.3],
      ],
    );
    assert.deepEqual(rejected, ['csv_row'], 'the unclosed quote counted, nothing else lost');
  });
});
