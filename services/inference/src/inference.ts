import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, startStage, type FeaturesMessage, type Logger, type RunningService } from '@vigil/shared/runtime';
import { assetFeatureSpec, EVERY_ASSET } from '@vigil/shared/runtime';
import type { LoadedBundle } from '@vigil/shared/model';
import type { FeatureSpec } from '@vigil/shared/features';
import { SERVICE, type InferenceConfig } from './config.js';
import { dirname, join } from 'node:path';
import { ModelDelivery } from './model-delivery.js';
import { ModelLink, type ModelCommand } from './model-link.js';
import { assetModelPath, ModelSlot } from './model-slot.js';
import { DetectorMemoryKeeper } from './detector-memory.js';

export interface Inference extends RunningService {
  readonly opsPort: number;
  /** The bundle in service (the first asset's, with an assets file); undefined while learn mode is still learning. */
  readonly bundle: LoadedBundle | undefined;
  /** The bundle in service for an asset. */
  bundleOf(asset: string): LoadedBundle | undefined;
}

export async function startInference(config: InferenceConfig, logger: Logger): Promise<Inference> {
  let slotList: ModelSlot[] = [];
  const stage = await startStage({
    stage: SERVICE,
    kind: 'features',
    settings: config,
    logger,
    async setup({ metrics, rejectLog, forward }) {
      const latency = new Histogram({
        name: 'vigil_inference_latency_seconds',
        help: 'Time to score one sample: forward pass, reconstruction error and contributions.',
        buckets: LATENCY_BUCKETS_SECONDS,
        registers: [metrics.registry],
      });
      const modelLoads = new Counter({
        name: 'vigil_model_loads_total',
        help: 'Model bundles loaded (once per bundle: a reload per prediction would cost 10x).',
        labelNames: ['outcome'] as const,
        registers: [metrics.registry],
      });
      const modelInfo = new Gauge({
        name: 'vigil_model_info',
        help: 'The model in service (value 1), by name, version, kind and format; asset is the one it serves alone (empty: every asset).',
        labelNames: ['name', 'version', 'kind', 'format', 'asset'] as const,
        registers: [metrics.registry],
      });

      const slotMetrics = { modelLoads, modelInfo };
      const baseSpec: FeatureSpec = {
        channels: config.channels,
        features: config.features,
        windowSize: config.windowSize,
        scalerWarmup: config.scalerWarmup,
      };
      // Loaded once per bundle, and kept: never per prediction. One slot for every asset, or, with
      // an assets file, one per asset, each in its own folder.
      const shared = config.assetSpecs.size === 0 ? await ModelSlot.open(undefined, config.modelPath, baseSpec, config, logger, slotMetrics) : undefined;
      const own = new Map<string, ModelSlot>();
      try {
        for (const [asset, spec] of config.assetSpecs) {
          own.set(asset, await ModelSlot.open(asset, assetModelPath(config.modelPath, asset), assetFeatureSpec(baseSpec, spec), config, logger, slotMetrics));
        }
      } catch (error) {
        await Promise.all([...own.values()].map((slot) => slot.stop()));
        throw error;
      }
      const slots = shared ? [shared] : [...own.values()];
      slotList = slots;
      const slotFor = (asset: string): ModelSlot | undefined => shared ?? own.get(asset);

      let link: ModelLink | undefined;
      let delivery: ModelDelivery | undefined;
      for (const slot of slots) slot.announce = () => link?.announce(slot.asset === undefined ? undefined : [slot.asset]);
      const carryOut = async (command: ModelCommand): Promise<string | undefined> => {
        if (command.asset === EVERY_ASSET) {
          // The whole device: relearn every model; the others name one model, unless there is only one.
          if (command.command !== 'relearn' && !shared) return `${command.command} acts on one asset's model: send it on ${config.mqtt.topicPrefix}/${config.deviceId}/<asset>/command`;
          // A model already learning is already doing what was asked.
          const learning = (slot: ModelSlot) => command.command === 'relearn' && (slot.learner?.state === 'collecting' || slot.learner?.state === 'training');
          const refusals = (await Promise.all(slots.filter((slot) => !learning(slot)).map(async (slot) => [slot.asset ?? 'every asset', await slot.carryOut(command)] as const))).filter(([, reason]) => reason !== undefined);
          return refusals.length === 0 ? undefined : refusals.map(([asset, reason]) => (shared ? reason : `${asset}: ${reason}`)).join('; ');
        }
        const slot = slotFor(command.asset);
        if (!slot) return `asset ${command.asset} is not in the assets file`;
        return slot.carryOut(command);
      };
      // Fleet delivery feeds the one shared slot (the config refuses it with an assets file).
      delivery =
        config.modelPublicKey && shared
          ? new ModelDelivery(config.modelPath, config.modelPublicKey, () => shared.holder.active?.ref.version, async (report) => {
              shared.lastDelivery = report;
              if (report.outcome === 'installed') await shared.holder.reload();
              shared.announce();
            }, logger)
          : undefined;
      link =
        config.mqtt.url === ''
          ? undefined
          : new ModelLink(
              { ...config.mqtt, deviceId: config.deviceId, auditPath: join(dirname(config.modelPath), 'model-commands.jsonl'), fleetTopic: config.modelFleetTopic },
              logger,
              carryOut,
              (asset) => slotFor(asset)?.status(),
              (archive) => void delivery?.take(archive, 'mqtt'),
            );
      // The file's assets have their model topic from the start, not from their first sample.
      for (const asset of own.keys()) link?.noteAsset(asset);
      const fleet = delivery;
      if (fleet && config.modelUrl !== '') fleet.watchUrl(config.modelUrl, config.modelUrlCheckS * 1000);
      link?.announce();
      // The detector's memory of each asset, in Redis, so that a restart resumes it.
      const memory =
        config.memory.redisUrl === ''
          ? undefined
          : await DetectorMemoryKeeper.open(
              { redisUrl: config.memory.redisUrl, flushMs: config.memory.flushMs, ttlDays: config.assetStateTtlDays },
              (asset) => {
                const active = slotFor(asset)?.holder.active;
                return active ? { version: active.ref.version, scorer: active.scorer } : undefined;
              },
              logger,
              metrics,
              rejectLog,
            );

      const handle = async (message: FeaturesMessage): Promise<void> => {
        const slot = slotFor(message.asset);
        if (!slot) {
          metrics.countMessage('rejected', 'unknown_asset');
          rejectLog.warn('unknown_asset', { asset: message.asset }, 'features of an asset the assets file does not name: refused (add it to VIGIL_ASSETS_FILE)');
          return;
        }
        const expected = slot.expectedFeatures();
        if (message.features.length !== expected) {
          metrics.countMessage('rejected', 'feature_count');
          rejectLog.warn(
            'feature_count',
            { asset: message.asset, got: message.features.length, expected },
            'feature vector does not match the model: preprocessor and model bundle disagree on the feature spec',
          );
          return;
        }
        link?.noteAsset(message.asset);
        const started = process.hrtime.bigint();
        if (!message.warmup) await memory?.prepare(message.asset);
        const { score, contributions, weight, level, model } = await slot.observe(message);
        // Warm-up samples (and all of them while learning with no model) are passed on unscored,
        // so seq stays gap-free downstream and the threshold knows not to judge them.
        const scored = !message.warmup && model !== undefined;
        if (scored) {
          latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
          memory?.scored(message.asset);
        }
        const calibrated = slot.holder.active?.scorer.calibrated;
        await forward<'score'>(message, {
          kind: 'score',
          score,
          contributions,
          warmup: !scored,
          model: model ?? ModelSlot.learningRef,
          ...(calibrated
            ? {
                calibrated: {
                  ...calibrated,
                  ...(weight !== undefined ? { weight } : {}),
                  ...level,
                },
              }
            : {}),
        });
        metrics.completed(message.ingestTs);
      };

      return {
        handle,
        healthChecks: [{ name: 'model', healthy: () => slots.every((slot) => slot.healthy()) }],
        parts: [
          ...(memory ? [{ name: 'detector-memory', stop: () => memory.stop() }] : []),
          { name: 'model-watch', stop: async () => void (await Promise.all(slots.map((slot) => slot.stop()))) },
          ...(link ? [{ name: 'model-link', stop: () => link.stop() }] : []),
          ...(fleet ? [{ name: 'model-delivery', stop: async () => fleet.stop() }] : []),
        ],
        started: Object.fromEntries(slots.map((slot) => [slot.asset ?? 'every asset', { model: slot.holder.active?.ref ?? ModelSlot.learningRef, mode: slot.holder.active ? 'scoring' : 'learning' }])),
      };
    },
  });
  return {
    opsPort: stage.opsPort,
    get bundle() {
      return slotList[0]?.bundle;
    },
    bundleOf(asset: string) {
      return (slotList.find((slot) => slot.asset === asset) ?? slotList.find((slot) => slot.asset === undefined))?.bundle;
    },
    stop: () => stage.stop(),
  };
}
