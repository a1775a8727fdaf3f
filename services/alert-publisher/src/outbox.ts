/**
 * A durable outbox for alerts: an append-only JSON-lines file on the data volume. An alert is
 * written (and fsynced) before anything tries to publish it, and stays pending until the broker's
 * PUBACK; a restart replays the file and publishes whatever was never acknowledged. MQTT.js keeps
 * its own queue in memory only, which a power cut loses.
 *
 * Why a file and not SQLite or a Redis stream: alerts are rare (one per fault, with a cooldown),
 * so an fsync per alert is cheap; it needs no native module and no other process to be up; and
 * the file is compacted to the pending alerts at every start, so it stays small on an SD card.
 *
 * Every configured output (MQTT, a webhook, Sparkplug B) takes each alert from here and
 * acknowledges it for itself: an alert stays until every output has it, so a webhook that is down
 * for an hour loses nothing and holds up no MQTT alert. An acknowledgement written before outputs
 * had names is MQTT's.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Alert {
  /** Idempotency key: the same alert published twice has the same id; subscribers drop repeats. */
  id: string;
  /**
   * `raised`: an alarm episode began (the alert topic); `cleared`: it ended (the episode topic),
   * with its duration, peak score (in `score`) and the sensors that led over the whole episode.
   * `acknowledged`: an operator acknowledged it (the episode topic). Records written before
   * episodes existed have none and are `raised`.
   */
  event?: 'raised' | 'cleared' | 'acknowledged';
  /** acknowledged: who said so (as the command gave it), and when. */
  by?: string;
  /**
   * raised: held back first as a known false alarm (an operator's false-positive), published once
   * its score passed that alarm's peak.
   */
  escalated?: boolean;
  /** The id of the alert that raised the episode. */
  episode?: string;
  /** Times the asset re-entered the anomalous state within the cooldown, in this episode. */
  reentries?: number;
  /** cleared: seconds from the raise to this clear, in sensor time. */
  durationS?: number;
  /**
   * cleared: what the asset reads now the alarm is over: `normal`, or `changed` (it settled at a
   * new level and holds it: not an alarm any more, not the normal it learned either).
   */
  now?: 'normal' | 'changed';
  device: string;
  asset: string;
  seq: number;
  ts: number;
  time: string;
  clockSynced: boolean;
  severity: 'warning' | 'critical';
  score: number;
  threshold: number;
  contributors: Array<{ sensor: string; share: number }>;
  model: { name: string; version: string };
}

/** The outputs an alert goes to; `mqtt` is always one of them. */
export type OutputName = 'mqtt' | 'webhook' | 'sparkplug';

type OutboxRecord = { op: 'add'; alert: Alert } | { op: 'ack'; id: string; output?: OutputName };

interface Entry {
  alert: Alert;
  /** The outputs that still have to deliver it. */
  waiting: Set<OutputName>;
}

export class Outbox {
  private readonly entries = new Map<string, Entry>();
  private appendsSinceCompaction = 0;
  /** Set when the disk refused a write: alerts are then held in memory only, and said so. */
  lastWriteError: string | undefined;

  constructor(
    private readonly path: string,
    private readonly outputs: readonly OutputName[] = ['mqtt'],
    private readonly compactAfter = 1_000,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.replay();
    this.compact();
  }

  /** Alerts some output still has to deliver. */
  pending(): Alert[] {
    return [...this.entries.values()].map((entry) => entry.alert);
  }

  /** The alerts `output` has not delivered, oldest first, lazily: a sender filling a small window stops early. */
  *pendingOldestFirst(output: OutputName = 'mqtt'): IterableIterator<Alert> {
    for (const entry of this.entries.values()) if (entry.waiting.has(output)) yield entry.alert;
  }

  /** Alerts at least one output has not delivered. */
  get size(): number {
    return this.entries.size;
  }

  sizeFor(output: OutputName): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.waiting.has(output)) count += 1;
    return count;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Records an alert durably (fsync) before it is published. Returns false if the disk refused. */
  add(alert: Alert): boolean {
    this.entries.set(alert.id, { alert, waiting: new Set(this.outputs) });
    return this.append({ op: 'add', alert }, true);
  }

  /** `output` delivered it (the broker's PUBACK, the web hook's 2xx): that output will not send it again. */
  ack(id: string, output: OutputName = 'mqtt'): void {
    const entry = this.entries.get(id);
    if (!entry?.waiting.delete(output)) return;
    if (entry.waiting.size === 0) this.entries.delete(id);
    // No fsync: losing an ack in a power cut means one duplicate, which the id lets a reader drop.
    this.append({ op: 'ack', id, output }, false);
    if (this.appendsSinceCompaction >= this.compactAfter) this.compact();
  }

  private append(record: OutboxRecord, sync: boolean): boolean {
    try {
      const fd = openSync(this.path, 'a');
      try {
        writeSync(fd, `${JSON.stringify(record)}\n`);
        if (sync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.appendsSinceCompaction += 1;
      this.lastWriteError = undefined;
      return true;
    } catch (error) {
      this.lastWriteError = error instanceof Error ? error.message : String(error);
      return false;
    }
  }

  private replay(): void {
    if (!existsSync(this.path)) return;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let record: OutboxRecord;
      try {
        record = JSON.parse(line) as OutboxRecord;
      } catch {
        // A line torn by a power cut mid-write: everything before it is intact.
        continue;
      }
      if (record.op === 'add' && typeof record.alert?.id === 'string') {
        this.entries.set(record.alert.id, { alert: record.alert, waiting: new Set(this.outputs) });
      } else if (record.op === 'ack' && typeof record.id === 'string') {
        const entry = this.entries.get(record.id);
        entry?.waiting.delete(record.output ?? 'mqtt');
        if (entry?.waiting.size === 0) this.entries.delete(record.id);
      }
    }
  }

  /**
   * Rewrites the file with only the pending alerts and what each output already delivered of
   * them (write to a temporary file, then rename). An output no longer configured waits for nothing.
   */
  private compact(): void {
    const temporary = `${this.path}.tmp`;
    try {
      const text = [...this.entries.values()]
        .map(({ alert, waiting }) => {
          const done = this.outputs.filter((output) => !waiting.has(output)).map((output) => `${JSON.stringify({ op: 'ack', id: alert.id, output })}\n`);
          return `${JSON.stringify({ op: 'add', alert })}\n${done.join('')}`;
        })
        .join('');
      const fd = openSync(temporary, 'w');
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, this.path);
      this.appendsSinceCompaction = 0;
    } catch (error) {
      this.lastWriteError = error instanceof Error ? error.message : String(error);
      try {
        appendFileSync(this.path, '');
      } catch {
        // Nothing more to do: the error is reported through lastWriteError.
      }
    }
  }
}
