import { AssetFeaturePipeline, isRunningStatsState, type FeatureSettings, type RunningStatsState } from '@vigil/shared/features';
import {
  assetFeatureSpec,
  assetLimits,
  AssetSlots,
  BatchedStateWriter,
  closeRedis,
  connectRedis,
  createRedisClient,
  Gauge,
  RedisJsonState,
  startStage,
  type Logger,
  type ReadingMessage,
  type RunningStage,
} from '@vigil/shared/runtime';
import { SERVICE, type PreprocessorConfig } from './config.js';

interface StoredScaler {
  channels: string[];
  stats: RunningStatsState[];
}

export type Preprocessor = RunningStage;

export function featureSettingsOf(config: PreprocessorConfig): FeatureSettings {
  // The loader has checked and parsed it all (format 'window-features', the limits): one start-up error for all.
  return {
    channels: config.channels,
    features: config.features,
    windowSize: config.windowSize,
    scalerWarmup: config.scalerWarmup,
    limits: config.physicalLimits,
    policies: {
      missing: config.policy.missing,
      non_finite: config.policy.nonFinite,
      out_of_range: config.policy.outOfRange,
    },
    forwardFillLimit: config.forwardFillLimit,
  };
}

/**
 * Each asset's feature settings: with an assets file, its own channels (and features, window,
 * limits) over the service's; an asset the file does not name gets none. Without one, every
 * asset has the service's own.
 */
export function assetFeatureSettings(config: PreprocessorConfig): (asset: string) => FeatureSettings | undefined {
  const base = featureSettingsOf(config);
  if (config.assetSpecs.size === 0) return () => base;
  const perAsset = new Map([...config.assetSpecs].map(([asset, spec]) => [asset, { ...base, ...assetFeatureSpec(base, spec), limits: assetLimits(base.limits, spec) }]));
  return (asset) => perAsset.get(asset);
}

export async function startPreprocessor(config: PreprocessorConfig, logger: Logger): Promise<Preprocessor> {
  const settingsOf = assetFeatureSettings(config);
  return startStage({
    stage: SERVICE,
    kind: 'reading',
    settings: config,
    logger,
    async setup({ metrics, rejectLog, seq, forward }) {
      const scalerSamples = new Gauge({
        name: 'vigil_scaler_samples',
        help: 'Readings the scaler has learned from per asset; it freezes at the warm-up count.',
        labelNames: ['asset'] as const,
        registers: [metrics.registry],
      });

      const redis = createRedisClient(config.redisUrl, logger, metrics);
      await connectRedis(redis, logger);
      // Statistics are stored with the channel list: statistics of other channels are not applied
      // (checked when loaded, against the asset's own channels).
      const isStoredScaler = (value: unknown): value is StoredScaler => {
        const stored = value as StoredScaler | null;
        return typeof stored === 'object' && stored !== null && Array.isArray(stored.channels) && Array.isArray(stored.stats) && stored.stats.every(isRunningStatsState);
      };
      const store = new RedisJsonState(redis, logger, 'vigil:scaler', isStoredScaler, 60_000, config.assetStateTtlDays * 86_400);
      const stateOf = (pipeline: AssetFeaturePipeline): StoredScaler => ({ channels: pipeline.channels, stats: pipeline.scalerState() });
      const pipelines = new AssetSlots<AssetFeaturePipeline>({
        capacity: config.maxAssets,
        idleMs: config.assetIdleS * 1000,
        onEvict: (asset, pipeline) => {
          // Its statistics go to Redis as they are, and come back if the asset does.
          if (!pipeline.scalerFrozen) void store.save(asset, stateOf(pipeline)).catch(() => undefined);
          scalerSamples.remove({ asset });
          seq.forget(asset);
          logger.info({ asset, idleS: config.assetIdleS }, 'asset idle: its slot is given to a new one');
        },
      });
      const writer = new BatchedStateWriter(
        store,
        (asset) => {
          const pipeline = pipelines.peek(asset);
          if (!pipeline) return undefined;
          const stored = stateOf(pipeline);
          scalerSamples.set({ asset }, stored.stats[0]?.count ?? 0);
          return stored;
        },
        config.scalerFlushMs,
        rejectLog,
        () => pipelines.assets(),
      );

      const pipelineFor = async (asset: string): Promise<AssetFeaturePipeline | undefined> => {
        const existing = pipelines.get(asset);
        if (existing) return existing;
        const settings = settingsOf(asset);
        if (!settings || !pipelines.makeRoom(asset)) return undefined;
        const stored = await store.load(asset);
        const pipeline = new AssetFeaturePipeline(settings, stored && JSON.stringify(stored.channels) === JSON.stringify(settings.channels) ? stored.stats : undefined);
        pipelines.set(asset, pipeline);
        logger.info({ asset, scalerFrozen: pipeline.scalerFrozen }, 'new asset');
        return pipeline;
      };

      const handle = async (reading: ReadingMessage): Promise<void> => {
        if (!settingsOf(reading.asset)) {
          metrics.countMessage('rejected', 'unknown_asset');
          rejectLog.warn('unknown_asset', { asset: reading.asset }, 'reading of an asset the assets file does not name: refused (add it to VIGIL_ASSETS_FILE)');
          return;
        }
        const pipeline = await pipelineFor(reading.asset);
        if (!pipeline) {
          metrics.countMessage('rejected', 'too_many_assets');
          rejectLog.warn('too_many_assets', { asset: reading.asset, maxAssets: config.maxAssets }, 'every asset slot is in use by an asset heard from within VIGIL_ASSET_IDLE_S: reading refused (VIGIL_PREPROCESSOR_MAX_ASSETS)');
          return;
        }
        // While the scaler learns, its statistics change with every reading: persist them (batched).
        if (!pipeline.scalerFrozen) writer.markDirty(reading.asset);
        const result = pipeline.process(reading.channels);
        if (!result.ok) {
          metrics.countMessage('rejected', result.reason);
          rejectLog.warn(result.reason, { asset: reading.asset, seq: reading.seq, channel: result.channel }, 'reading rejected');
          return;
        }
        for (const { problem } of result.imputed) metrics.countMessage('imputed', problem);
        await forward<'features'>(reading, {
          kind: 'features',
          features: result.features,
          warmup: result.warmup,
          imputed: result.imputed.map(({ channel }) => channel),
        });
        metrics.completed(reading.ingestTs);
      };

      return {
        handle,
        // Unhealthy while a real asset may be shut out: an asset refused for want of a slot lately.
        healthChecks: [{ name: 'asset_slots', healthy: () => !pipelines.refusedWithin(60_000) }],
        parts: [
          { name: 'redis', stop: () => closeRedis(redis) },
          { name: 'scaler-writer', stop: () => writer.stop() },
        ],
      };
    },
  });
}
