import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { parse } from 'csv-parse';
import { csvParseOptions, detectDelimiter, layoutFromFields, layoutFromHeader, parseRecord, type CsvLayout, type CsvLayoutOptions } from '@vigil/shared/runtime';
import { sleepUntil, type EmitSample, type RejectInput, type SampleSource } from './sample-source.js';

export interface CsvSourceOptions extends CsvLayoutOptions {
  path: string;
  asset: string;
  /** Replay at N× the recorded pace; 0 replays as fast as the pipeline takes it. */
  speed: number;
  loop: boolean;
  /** Stamp samples with the replay's wall clock instead of the file's time. */
  restamp: boolean;
}

/**
 * Replays a CSV file at its recorded pace (times `speed`), streaming it record by record (RFC 4180:
 * a quoted field may hold the delimiter, quotes and line breaks). A record that is not CSV is
 * counted and skipped; the replay goes on.
 */
export class CsvSource implements SampleSource {
  readonly name = 'csv';
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  /** Resolves when the file has been replayed (and not looping). */
  finished: Promise<void> = Promise.resolve();

  constructor(private readonly options: CsvSourceOptions) {}

  /** Fails at start, with the reason, on a file that is missing or whose header cannot be read. */
  async start(emit: EmitSample, reject: RejectInput): Promise<void> {
    layoutFromHeader(readFirstLine(this.options.path), this.options);
    this.running = this.run(emit, reject);
    this.finished = this.running;
  }

  private async run(emit: EmitSample, reject: RejectInput): Promise<void> {
    do {
      await this.replayOnce(emit, reject);
    } while (this.options.loop && !this.abort.signal.aborted);
  }

  private async replayOnce(emit: EmitSample, reject: RejectInput): Promise<void> {
    const delimiter = this.options.delimiter || detectDelimiter(readFirstLine(this.options.path));
    const input = createReadStream(this.options.path);
    const records = input.pipe(parse({ ...csvParseOptions(delimiter), skip_records_with_error: true }));
    records.on('skip', (error: Error) => reject('csv_row', error.message));
    let layout: CsvLayout | undefined;
    let firstFileTs: number | undefined;
    const replayStart = Date.now();
    let rows = 0;
    try {
      for await (const cells of records as AsyncIterable<string[]>) {
        if (this.abort.signal.aborted) break;
        if (!layout) {
          layout = layoutFromFields(cells.map((name) => name.trim()), delimiter, this.options);
          continue;
        }
        const row = parseRecord(cells, layout);
        if ('error' in row) {
          reject(row.error, row.detail);
          continue;
        }
        firstFileTs ??= row.ts;
        const offsetMs = row.ts - firstFileTs;
        if (this.options.speed > 0) await sleepUntil(replayStart + offsetMs / this.options.speed, this.abort.signal);
        // Flat out, still yield now and then so sends, metrics and signals get their turn.
        else if (++rows % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
        const accepted = emit({
          asset: this.options.asset,
          ts: this.options.restamp ? replayStart + offsetMs : row.ts,
          channels: row.channels,
        });
        if (accepted) await accepted;
      }
    } finally {
      records.destroy();
      input.destroy();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }
}

function readFirstLine(path: string): string {
  const buffer = Buffer.alloc(64 * 1024);
  const fd = openSync(path, 'r');
  try {
    const bytes = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytes).toString('utf8').split(/\r?\n/)[0] ?? '';
  } finally {
    closeSync(fd);
  }
}
