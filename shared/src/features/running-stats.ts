/**
 * Welford's running mean and variance: numerically stable in one pass, mergeable, and small
 * enough to persist per channel in Redis.
 */
export interface RunningStatsState {
  count: number;
  mean: number;
  m2: number;
}

export class RunningStats {
  count = 0;
  mean = 0;
  m2 = 0;

  static from(state: RunningStatsState): RunningStats {
    const stats = new RunningStats();
    stats.count = state.count;
    stats.mean = state.mean;
    stats.m2 = state.m2;
    return stats;
  }

  push(value: number): void {
    this.count += 1;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
  }

  /** Population variance; 0 until there are two values. */
  get variance(): number {
    return this.count > 1 ? this.m2 / this.count : 0;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  toJSON(): RunningStatsState {
    return { count: this.count, mean: this.mean, m2: this.m2 };
  }
}

export function isRunningStatsState(value: unknown): value is RunningStatsState {
  const state = value as Record<string, unknown> | null;
  return (
    typeof state === 'object' &&
    state !== null &&
    Number.isFinite(state.count) &&
    (state.count as number) >= 0 &&
    Number.isFinite(state.mean) &&
    Number.isFinite(state.m2) &&
    (state.m2 as number) >= 0
  );
}
