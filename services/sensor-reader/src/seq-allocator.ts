import type { Logger, Redis } from '@vigil/shared/runtime';

/**
 * Hands out per-asset seq numbers that stay strictly increasing across restarts of the reader:
 * numbers are reserved from Redis in blocks (INCRBY), so Redis sees one write per block, not per
 * sample. A reader that stops cleanly (a restart, an update) hands the rest of its blocks back, so
 * the next run goes on at the next number and downstream sees no gap; one that dies (kill -9,
 * OOM) skips the rest of its block, a gap of numbers that never were readings, which the stages
 * count as lost. If Redis is not reachable at start, the block starts at the wall clock in ms,
 * which is far above any reserved number, so order still holds.
 */
export class SeqAllocator {
  private readonly ranges = new Map<string, { next: number; end: number; refilling: boolean }>();

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly blockSize = 1_000,
    /** Seconds a counter lives without being used (0: for ever); refresh() keeps used ones. */
    private readonly ttlS = 0,
  ) {}

  /** Forgets an asset that gave up its slot: its next reading reserves a new block. */
  forget(asset: string): void {
    this.ranges.delete(asset);
  }

  /** Restarts the TTL of the counters of these assets. */
  async refresh(assets: Iterable<string>): Promise<void> {
    if (this.ttlS <= 0) return;
    const batch = this.redis.pipeline();
    for (const asset of assets) batch.expire(key(asset), this.ttlS);
    await batch.exec();
  }

  private async reserve(asset: string): Promise<number> {
    if (this.ttlS <= 0) return this.redis.incrby(key(asset), this.blockSize);
    const [[error, end] = [null, 0]] = (await this.redis.multi().incrby(key(asset), this.blockSize).expire(key(asset), this.ttlS).exec()) ?? [];
    if (error) throw error;
    return Number(end);
  }

  /**
   * Hands back what is left of each asset's block, once no more numbers will be taken: the
   * counter goes down to the last number used, but only where it still is at this block's end
   * (compare and set in one script), so nothing another run or a refill reserved is ever reused.
   * Bounded: a Redis that does not answer leaves the gap, never a reader that will not stop.
   */
  async release(timeoutMs = 1_000): Promise<void> {
    const releases = [...this.ranges].map(async ([asset, range]) => {
      if (range.refilling || range.next > range.end) return;
      await this.redis.eval(RELEASE_SCRIPT, 1, key(asset), String(range.end), String(range.next - 1));
    });
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(releases).catch((error: unknown) => this.logger.warn({ err: errorText(error) }, 'could not hand back the rest of the seq blocks')), gaveUp]);
    clearTimeout(timer);
    this.ranges.clear();
  }

  /** Reserves the first block for an asset; call before the asset's first sample. */
  async prepare(asset: string): Promise<void> {
    if (this.ranges.has(asset)) return;
    let end: number;
    try {
      end = await this.reserve(asset);
    } catch (error) {
      end = Date.now() + this.blockSize;
      this.logger.warn({ asset, err: errorText(error) }, 'redis unavailable for seq; starting from the clock');
    }
    this.ranges.set(asset, { next: end - this.blockSize + 1, end, refilling: false });
  }

  isPrepared(asset: string): boolean {
    return this.ranges.has(asset);
  }

  next(asset: string): number {
    const range = this.ranges.get(asset);
    if (!range) throw new Error(`seq for asset ${asset} was not prepared`);
    const seq = range.next;
    range.next += 1;
    if (!range.refilling && range.end - range.next < this.blockSize / 2) this.refill(asset, range);
    return seq;
  }

  /**
   * Extends the range by one block. Past the end of a block without Redis the reader keeps
   * counting locally; when Redis answers again its counter is lifted above what was used.
   */
  private refill(asset: string, range: { next: number; end: number; refilling: boolean }): void {
    range.refilling = true;
    const reserveAbove = range.end;
    this.reserve(asset)
      .then(async (end) => {
        if (end - this.blockSize < reserveAbove) {
          end = reserveAbove + this.blockSize;
          await (this.ttlS > 0 ? this.redis.set(key(asset), end, 'EX', this.ttlS) : this.redis.set(key(asset), end));
        }
        range.end = Math.max(range.end, end);
      })
      .catch((error: unknown) => {
        range.end += this.blockSize;
        this.logger.warn({ asset, err: errorText(error) }, 'redis unavailable for seq; counting on locally');
      })
      .finally(() => {
        range.refilling = false;
      });
  }
}

/** KEYS[1] the counter, ARGV[1] the block's end, ARGV[2] the last number used; its TTL kept. */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0`;

function key(asset: string): string {
  return `vigil:seq:${asset}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
