import { isThresholdState, type Logger, type Redis, type ThresholdState } from '@vigil/shared';

/** Threshold state per asset in Redis: a restart resumes with learned marks, not cold-start ones. */
export class ThresholdStore {
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  async load(asset: string): Promise<ThresholdState | undefined> {
    try {
      const text = await this.redis.get(key(asset));
      if (!text) return undefined;
      const state: unknown = JSON.parse(text);
      if (isThresholdState(state)) return state;
      this.logger.warn({ asset }, 'stored threshold state is malformed; learning anew');
    } catch (error) {
      this.logger.warn({ asset, err: error instanceof Error ? error.message : String(error) }, 'could not load threshold state; learning anew');
    }
    return undefined;
  }

  async save(asset: string, state: ThresholdState): Promise<void> {
    await this.redis.set(key(asset), JSON.stringify(state));
  }
}

function key(asset: string): string {
  return `vigil:threshold:${asset}`;
}
