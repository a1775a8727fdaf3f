/**
 * Validation and imputation of one asset's readings. Every problem has a reason (a metric label)
 * and a policy: reject the reading, or impute the value by forward fill from the last good one,
 * for at most `forwardFillLimit` readings in a row (after that the data is too stale to trust).
 */
import { readingValueToNumber, type ReadingValue } from '../messages.js';

export type ReadingProblem = 'missing' | 'non_finite' | 'out_of_range';
export type ProblemPolicy = 'impute' | 'reject';
export type RejectReadingReason = ReadingProblem | 'unknown_channel' | 'stale_imputation';

export interface PhysicalLimits {
  min: number;
  max: number;
}

export interface CleanerSettings {
  channels: readonly string[];
  /** Physical limits by channel; a channel without limits accepts any finite value. */
  limits: Readonly<Record<string, PhysicalLimits>>;
  policies: Readonly<Record<ReadingProblem, ProblemPolicy>>;
  forwardFillLimit: number;
}

export type CleanResult =
  | { ok: true; values: Float64Array; imputed: Array<{ channel: string; problem: ReadingProblem }> }
  | { ok: false; reason: RejectReadingReason; channel?: string };

export class ReadingCleaner {
  private readonly lastGood: Float64Array;
  private readonly filledInARow: Uint32Array;
  private readonly hasGood: Uint8Array;
  private readonly channelIndex: Map<string, number>;

  constructor(private readonly settings: CleanerSettings) {
    const count = settings.channels.length;
    this.lastGood = new Float64Array(count);
    this.filledInARow = new Uint32Array(count);
    this.hasGood = new Uint8Array(count);
    this.channelIndex = new Map(settings.channels.map((channel, index) => [channel, index]));
  }

  /**
   * Cleans one reading. A rejected reading changes no state, so what came before it and what
   * comes after are treated exactly as if it had never arrived.
   */
  clean(channels: Readonly<Record<string, ReadingValue | number>>): CleanResult {
    for (const name of Object.keys(channels)) {
      if (!this.channelIndex.has(name)) return { ok: false, reason: 'unknown_channel', channel: name };
    }
    const values = new Float64Array(this.settings.channels.length);
    const imputed: Array<{ channel: string; problem: ReadingProblem }> = [];
    const filled = new Uint8Array(values.length);
    for (const [index, channel] of this.settings.channels.entries()) {
      // Own properties only: a configured channel called "constructor" must not find Object's.
      const raw = Object.hasOwn(channels, channel) ? channels[channel] : undefined;
      const value = raw === undefined ? Number.NaN : readingValueToNumber(raw);
      const problem = this.problemOf(channel, raw, value);
      if (!problem) {
        values[index] = value;
        continue;
      }
      if (this.settings.policies[problem] === 'reject') return { ok: false, reason: problem, channel };
      if (!this.hasGood[index] || (this.filledInARow[index] as number) >= this.settings.forwardFillLimit) {
        return { ok: false, reason: 'stale_imputation', channel };
      }
      values[index] = this.lastGood[index] as number;
      filled[index] = 1;
      imputed.push({ channel, problem });
    }
    // Commit state only once the whole reading is accepted.
    for (let index = 0; index < values.length; index += 1) {
      if (filled[index]) {
        this.filledInARow[index] = (this.filledInARow[index] as number) + 1;
      } else {
        this.lastGood[index] = values[index] as number;
        this.hasGood[index] = 1;
        this.filledInARow[index] = 0;
      }
    }
    return { ok: true, values, imputed };
  }

  private problemOf(channel: string, raw: ReadingValue | number | undefined, value: number): ReadingProblem | undefined {
    if (raw === undefined || raw === null) return 'missing';
    if (!Number.isFinite(value)) return 'non_finite';
    const limits = this.settings.limits[channel];
    if (limits && (value < limits.min || value > limits.max)) return 'out_of_range';
    return undefined;
  }
}

/** Parses `channel:min:max` entries (config) into limits, with the bad entry named on error. */
export function parseLimits(entries: readonly string[]): Record<string, PhysicalLimits> {
  const limits: Record<string, PhysicalLimits> = {};
  for (const entry of entries) {
    const parts = entry.split(':');
    const [channel, min, max] = parts;
    if (parts.length !== 3 || !channel || !Number.isFinite(Number(min)) || !Number.isFinite(Number(max)) || Number(min) >= Number(max)) {
      throw new Error(`limit "${entry}" is not channel:min:max with min < max`);
    }
    limits[channel] = { min: Number(min), max: Number(max) };
  }
  return limits;
}
