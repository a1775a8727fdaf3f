/**
 * The default detector's memory of each asset (its course, smoothed level, followed baseline and
 * a settled new level), kept in Redis beside the threshold's state, so that a restarted inference
 * service picks each asset up where it left it: an asset in `changed` stays judged from its new
 * level, and a fault under way is not taken for where the machine starts from.
 *
 * Written in batches every `flushMs` (at once when an asset reaches or leaves a new level), read
 * once per asset when it is first scored after a start. A memory is tied to the model version it
 * was made with: a new model starts every asset afresh.
 */
import { BatchedStateWriter, closeRedis, connectRedis, createRedisClient, RedisJsonState, type Logger, type RateLimitedLog, type ServiceMetrics } from '@vigil/shared/runtime';
import { DetectorScorer } from '@vigil/shared/model';
import type { AnomalyScorer } from '@vigil/shared/model';

export const DETECTOR_MEMORY_PREFIX = 'vigil:detector';

export interface StoredDetectorMemory {
  /** The model version the memory was made with. */
  model: string;
  memory: unknown;
}

function isStoredDetectorMemory(value: unknown): value is StoredDetectorMemory {
  const stored = value as Record<string, unknown> | null;
  return typeof stored === 'object' && stored !== null && typeof stored.model === 'string' && typeof stored.memory === 'object' && stored.memory !== null;
}

/** The model in service for an asset: its version and scorer, or undefined while learning. */
export type ScorerOf = (asset: string) => { version: string; scorer: AnomalyScorer } | undefined;

export interface DetectorMemorySettings {
  redisUrl: string;
  flushMs: number;
  ttlDays: number;
}

/**
 * How long the first sample of an asset waits for an unreachable Redis before the asset starts
 * afresh: after a power cut Redis is back within seconds, and inference must not stall longer.
 */
const WAIT_FOR_REDIS_MS = 15_000;

export class DetectorMemoryKeeper {
  private readonly store: RedisJsonState<StoredDetectorMemory>;
  private readonly writer: BatchedStateWriter<StoredDetectorMemory>;
  /** Assets whose stored memory has been looked for, per model version: once each. */
  private readonly lookedUp = new Map<string, string>();
  private readonly atNewLevel = new Map<string, boolean>();

  private constructor(
    private readonly redis: ReturnType<typeof createRedisClient>,
    logger: Logger,
    private readonly scorerOf: ScorerOf,
    settings: DetectorMemorySettings,
    errorLog: RateLimitedLog,
  ) {
    this.store = new RedisJsonState(redis, logger, DETECTOR_MEMORY_PREFIX, isStoredDetectorMemory, WAIT_FOR_REDIS_MS, settings.ttlDays * 86_400);
    this.writer = new BatchedStateWriter(this.store, (asset) => this.current(asset), settings.flushMs, errorLog, () => this.lookedUp.keys());
  }

  static async open(settings: DetectorMemorySettings, scorerOf: ScorerOf, logger: Logger, metrics: ServiceMetrics, errorLog: RateLimitedLog): Promise<DetectorMemoryKeeper> {
    const redis = createRedisClient(settings.redisUrl, logger, metrics);
    await connectRedis(redis, logger);
    return new DetectorMemoryKeeper(redis, logger, scorerOf, settings, errorLog);
  }

  /**
   * Before an asset's sample is scored: the first time this model sees the asset, its stored
   * memory is put back (if it was made by this model). True if a memory was resumed.
   */
  async prepare(asset: string): Promise<boolean> {
    const model = this.scorerOf(asset);
    if (!model || !(model.scorer instanceof DetectorScorer) || model.scorer.remembers(asset)) return false;
    if (this.lookedUp.get(asset) === model.version) return false;
    this.lookedUp.set(asset, model.version);
    const stored = await this.store.load(asset);
    // The model may have been swapped while Redis answered: the memory is for the one it names.
    const now = this.scorerOf(asset);
    if (!stored || stored.model !== model.version || now?.scorer !== model.scorer) return false;
    return model.scorer.resume(asset, stored.memory);
  }

  /** After an asset's sample is scored: its memory is due for the next write (now, if its baseline moved). */
  scored(asset: string): void {
    const model = this.scorerOf(asset);
    if (!model || !(model.scorer instanceof DetectorScorer)) return;
    this.writer.markDirty(asset);
    const atNewLevel = model.scorer.atNewLevel(asset);
    if (atNewLevel !== (this.atNewLevel.get(asset) ?? false)) {
      this.atNewLevel.set(asset, atNewLevel);
      this.writer.flushSoon();
    }
  }

  private current(asset: string): StoredDetectorMemory | undefined {
    const model = this.scorerOf(asset);
    if (!model || !(model.scorer instanceof DetectorScorer)) return undefined;
    const memory = model.scorer.memoryOf(asset);
    return memory ? { model: model.version, memory } : undefined;
  }

  /** Writes what is due, then closes the connection. */
  async stop(): Promise<void> {
    await this.writer.stop();
    await closeRedis(this.redis);
  }
}
