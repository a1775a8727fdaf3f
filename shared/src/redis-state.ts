/**
 * Per-asset state kept as JSON in Redis, written in batches off the per-sample path: a stage
 * marks an asset dirty as often as it likes, and at most one write per asset per interval goes
 * out (at once on `flushSoon`, for changes a restart must not lose).
 */
import type { Redis } from 'ioredis';
import type { Logger, RateLimitedLog } from './logger.js';

export class RedisJsonState<T> {
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly keyPrefix: string,
    private readonly isValid: (value: unknown) => value is T,
  ) {}

  key(asset: string): string {
    return `${this.keyPrefix}:${asset}`;
  }

  /** The stored state, or undefined (none, malformed, or Redis unreachable: start afresh). */
  async load(asset: string): Promise<T | undefined> {
    try {
      const text = await this.redis.get(this.key(asset));
      if (!text) return undefined;
      const value: unknown = JSON.parse(text);
      if (this.isValid(value)) return value;
      this.logger.warn({ asset, key: this.key(asset) }, 'stored state is malformed or for another setup; starting afresh');
    } catch (error) {
      this.logger.warn({ asset, err: error instanceof Error ? error.message : String(error) }, 'could not load stored state; starting afresh');
    }
    return undefined;
  }

  async save(asset: string, value: T): Promise<void> {
    await this.redis.set(this.key(asset), JSON.stringify(value));
  }
}

export class BatchedStateWriter<T> {
  private readonly dirty = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RedisJsonState<T>,
    private readonly current: (asset: string) => T | undefined,
    intervalMs: number,
    private readonly errorLog: RateLimitedLog,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
  }

  markDirty(asset: string): void {
    this.dirty.add(asset);
  }

  /** Writes now rather than at the next interval. */
  flushSoon(): void {
    void this.flush();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeDirty());
    return this.flushing;
  }

  private async writeDirty(): Promise<void> {
    for (const asset of [...this.dirty]) {
      this.dirty.delete(asset);
      const value = this.current(asset);
      if (value === undefined) continue;
      await this.store.save(asset, value).catch((error: unknown) => {
        // Kept dirty: the next flush retries, so state written late is not state lost.
        this.dirty.add(asset);
        this.errorLog.warn('state_save', { asset, err: String(error) }, 'could not save state to redis; will retry');
      });
    }
  }

  /** Stops the timer and writes what is still dirty. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
