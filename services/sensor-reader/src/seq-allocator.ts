import type { Logger, Redis } from '@vigil/shared/runtime';

/**
 * Hands out per-asset seq numbers that stay strictly increasing across restarts of the reader:
 * numbers are reserved from Redis in blocks (INCRBY), so Redis sees one write per block, not per
 * sample. A restart skips the rest of its block: downstream sees a gap, which is the truth (the
 * samples not read while the reader was down). If Redis is not reachable at start, the block
 * starts at the wall clock in ms, which is far above any reserved number, so order still holds.
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

function key(asset: string): string {
  return `vigil:seq:${asset}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
