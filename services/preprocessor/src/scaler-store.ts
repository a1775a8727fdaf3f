import { isRunningStatsState, type Logger, type Redis, type RunningStatsState } from '@vigil/shared';

/**
 * Scaler statistics per asset in Redis, so a restarted preprocessor (or Redis, with persistence)
 * standardises exactly as before. Stored with the channel list: statistics learned for other
 * channels are not applied to these.
 */
export class ScalerStore {
  constructor(
    private readonly redis: Redis,
    private readonly channels: readonly string[],
    private readonly logger: Logger,
  ) {}

  async load(asset: string): Promise<RunningStatsState[] | undefined> {
    try {
      const text = await this.redis.get(key(asset));
      if (!text) return undefined;
      const stored = JSON.parse(text) as { channels?: unknown; stats?: unknown };
      if (
        JSON.stringify(stored.channels) !== JSON.stringify(this.channels) ||
        !Array.isArray(stored.stats) ||
        !stored.stats.every(isRunningStatsState)
      ) {
        this.logger.warn({ asset }, 'stored scaler statistics are for other channels or malformed; learning anew');
        return undefined;
      }
      return stored.stats;
    } catch (error) {
      this.logger.warn({ asset, err: error instanceof Error ? error.message : String(error) }, 'could not load scaler statistics; learning anew');
      return undefined;
    }
  }

  async save(asset: string, stats: RunningStatsState[]): Promise<void> {
    await this.redis.set(key(asset), JSON.stringify({ channels: this.channels, stats }));
  }
}

function key(asset: string): string {
  return `vigil:scaler:${asset}`;
}
