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
    /**
     * How long a load waits for an unreachable Redis before starting afresh. After a power cut
     * every container starts at once: a stage that gave up at its first failed read would start
     * from cold-start statistics and then overwrite the learned ones Redis was about to serve.
     */
    private readonly waitForRedisMs = 60_000,
    /** Seconds a key lives without being written or refreshed (0: for ever). */
    private readonly ttlS = 0,
  ) {}

  key(asset: string): string {
    return `${this.keyPrefix}:${asset}`;
  }

  /**
   * The stored state, or undefined: none, malformed, or Redis still unreachable after
   * `waitForRedisMs` (then the stage starts afresh rather than stall for good).
   */
  async load(asset: string): Promise<T | undefined> {
    const text = await this.read(asset);
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (this.isValid(value)) return value;
    } catch {
      // Not JSON: treated as malformed below.
    }
    this.logger.warn({ asset, key: this.key(asset) }, 'stored state is malformed or for another setup; starting afresh');
    return undefined;
  }

  private async read(asset: string): Promise<string | undefined> {
    const deadline = Date.now() + this.waitForRedisMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.redis.get(this.key(asset))) ?? undefined;
      } catch (error) {
        const err = error instanceof Error ? error.message : String(error);
        if (Date.now() >= deadline) {
          this.logger.error({ asset, err, waitedMs: this.waitForRedisMs }, 'redis still unreachable: starting this asset afresh');
          return undefined;
        }
        if (attempt === 0) this.logger.warn({ asset, err }, 'redis unreachable; waiting for it before loading the stored state');
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  async save(asset: string, value: T): Promise<void> {
    if (this.ttlS > 0) await this.redis.set(this.key(asset), JSON.stringify(value), 'EX', this.ttlS);
    else await this.redis.set(this.key(asset), JSON.stringify(value));
  }

  /** Restarts the TTL of these assets' keys: they are in use, even if nothing in them changed. */
  async refresh(assets: Iterable<string>): Promise<void> {
    if (this.ttlS <= 0) return;
    const batch = this.redis.pipeline();
    let any = false;
    for (const asset of assets) {
      batch.expire(this.key(asset), this.ttlS);
      any = true;
    }
    if (any) await batch.exec();
  }
}

/** How often the keys of assets in use get their TTL restarted: far inside any TTL of days. */
export const TTL_REFRESH_MS = 3_600_000;

export class BatchedStateWriter<T> {
  private readonly dirty = new Set<string>();
  /** Pending only while something is dirty: an idle service is not woken to find nothing to write. */
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private flushing: Promise<void> = Promise.resolve();

  private readonly refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RedisJsonState<T>,
    private readonly current: (asset: string) => T | undefined,
    private readonly intervalMs: number,
    private readonly errorLog: RateLimitedLog,
    /** Assets in use, whose keys must not expire though their state no longer changes. */
    inUse?: () => Iterable<string>,
  ) {
    if (inUse) {
      this.refreshTimer = setInterval(() => {
        this.store.refresh(inUse()).catch((error: unknown) => this.errorLog.warn('state_refresh', { err: String(error) }, 'could not refresh state TTLs in redis; will retry'));
      }, TTL_REFRESH_MS);
      this.refreshTimer.unref();
    }
  }

  markDirty(asset: string): void {
    this.dirty.add(asset);
    this.schedule();
  }

  /** A write at most `intervalMs` after the first change since the last one: as often as a fixed interval when busy, never when idle. */
  private schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.intervalMs);
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
        this.schedule();
        this.errorLog.warn('state_save', { asset, err: String(error) }, 'could not save state to redis; will retry');
      });
    }
  }

  /** Stops the timer and writes what is still dirty. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.refreshTimer);
    await this.flush();
  }
}
