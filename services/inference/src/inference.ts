import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, startStage, type FeaturesMessage, type Logger, type RunningService } from '@vigil/shared/runtime';
import type { LevelNews } from '@vigil/shared/detection';
import { DEFAULT_EVIDENCE_ALARM_SETTINGS } from '@vigil/shared/detection';
import { loadBundle, modelKindFor, scorerForBundle, signatureProblem, type LoadedBundle } from '@vigil/shared/model';
import { valuesPerChannel, type FeatureSpec } from '@vigil/shared/features';
import { SERVICE, type InferenceConfig } from './config.js';
import { dirname, join } from 'node:path';
import { Learner } from './learner.js';
import { ModelHolder } from './model-holder.js';
import { ModelDelivery } from './model-delivery.js';
import { ModelLink, type ModelCommand, type ModelStatus } from './model-link.js';
import { ModelRegistry, registryId } from './model-registry.js';
import { Shadow } from './shadow.js';

export interface Inference extends RunningService {
  readonly opsPort: number;
  /** The bundle in service; undefined while learn mode is still learning. */
  readonly bundle: LoadedBundle | undefined;
}

export async function startInference(config: InferenceConfig, logger: Logger): Promise<Inference> {
  let holder: ModelHolder | undefined;
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
        help: 'The model in service (value 1), by name, version, kind and format.',
        labelNames: ['name', 'version', 'kind', 'format'] as const,
        registers: [metrics.registry],
      });

      // Loaded once per bundle, and kept: never per prediction.
      const models = new ModelHolder(config.modelPath, logger, modelLoads, modelInfo);
      holder = models;
      const registry = await new ModelRegistry(config.modelPath, config.modelsKept).open();
      // Declared before the first load, which announces the model on the link.
      let learner: Learner | undefined;
      let link: ModelLink | undefined;
      let delivery: ModelDelivery | undefined;
      let shadow: Shadow | undefined;
      // An operator's rollback or pin puts its model into service at once, without a shadow period.
      let operatorInstall = false;
      let lastShadow: { version: string; outcome: 'promoted' | 'kept-as-candidate'; reason: string } | undefined;
      const concludeShadow = async (ended: Shadow): Promise<void> => {
        const { version } = ended.bundle.manifest;
        const pinned = registry.pinned;
        const { promote, reason } = pinned && pinned.id !== registryId(ended.bundle.manifest) ? { promote: false, reason: `kept as a candidate: ${pinned.version} was pinned meanwhile` } : ended.verdict();
        lastShadow = { version, outcome: promote ? 'promoted' : 'kept-as-candidate', reason };
        logger.info({ candidate: version, reason }, 'shadow period over');
        if (promote) await models.activate(ended.bundle);
        else {
          // Kept for a pin or a later look; the model in service goes back in the folder for the next start.
          await registry.record(ended.bundle.manifest, sourceOf(version));
          if (registry.active) await registry.install(registry.active);
        }
        announce();
      };
      // Learned here (learn mode notes each version in the registry before it writes it), or
      // delivered into the model folder. (The registry sits on the models volume beside the folder:
      // whoever can write one can write the other, so it is no weaker a check.)
      const sourceOf = (version: string): 'learned' | 'delivered' =>
        registry.wasLearned(version) ? 'learned' : 'delivered';
      models.gate = async (bundle) => {
        // A delivered bundle, on a device that trusts a fleet key, must be signed by it.
        if (config.modelPublicKey && sourceOf(bundle.manifest.version) === 'delivered') {
          const problem = await signatureProblem(bundle.dir, config.modelPublicKey);
          if (problem) {
            logger.error({ version: bundle.manifest.version, reason: problem, keeping: models.active?.ref }, 'model bundle refused: its signature does not hold; the running model stays');
            return 'unsigned';
          }
        }
        const pinned = registry.pinned;
        if (!pinned || pinned.id === registryId(bundle.manifest)) {
          // With a calibrated model in service, a calibrated newcomer earns its place in the shadow first.
          const candidate = scorerForBundle(bundle);
          const inService = models.active?.scorer.calibrated;
          if (config.shadowS > 0 && inService && candidate.calibrated && !operatorInstall) {
            shadow = new Shadow(bundle, candidate, inService.samplePeriodMs, DEFAULT_EVIDENCE_ALARM_SETTINGS, config.shadowS * 1000);
            logger.info({ candidate: bundle.manifest.version, inService: models.active?.ref, forS: config.shadowS }, 'a new model scores in the shadow before it is promoted');
            announce();
            return 'shadow';
          }
          return 'accept';
        }
        // Pinned: the newcomer is kept as a candidate, and the pinned bundle goes back in the folder.
        logger.warn({ refused: bundle.manifest.version, pinned: pinned.version }, 'a model is pinned: the new bundle is kept in the registry, not put into service');
        await registry.record(bundle.manifest, sourceOf(bundle.manifest.version));
        await registry.install(pinned);
        announce();
        return 'pinned';
      };
      models.record = async (bundle) => {
        await registry.recordActive(bundle.manifest, sourceOf(bundle.manifest.version));
      };
      models.onActivated = async () => {
        announce();
      };
      await models.reload();
      // The folder's bundle refused at start (pinned another, unsigned): the registry's active one, if any.
      const fallback = registry.pinned ?? registry.active;
      if (!models.active && fallback) {
        logger.warn({ model: fallback.version, refused: models.lastRefusal }, 'the bundle in the model folder was refused: back to the last model in service');
        await registry.install(fallback);
        await models.reload();
      }
      const featureSpec: FeatureSpec = {
        channels: config.channels,
        features: config.features,
        windowSize: config.windowSize,
        scalerWarmup: config.scalerWarmup,
      };
      // Refused at start, not after minutes of collecting: features the learner could not train on.
      modelKindFor(featureSpec.features, config.learn.model);
      const startLearning = (why: string): void => {
        learner = new Learner(
          { samples: config.learn.samples, epochs: config.learn.epochs, precision: config.learn.precision, model: config.learn.model, featureSpec, modelPath: config.modelPath },
          logger,
          async () => {
            await models.reload();
            announce();
          },
          (version) => registry.noteLearning(version),
        );
        logger.info({ samples: config.learn.samples, modelPath: config.modelPath, why }, 'learn mode: learning what normal looks like');
        announce();
      };
      if (!models.active) {
        if ((await models.bundlePresent()) || !config.learn.enabled) {
          const reason =
            models.lastRefusal ??
            (await loadBundle(config.modelPath).then(
              () => 'it changed while loading',
              (error: unknown) => (error instanceof Error ? error.message : String(error)),
            ));
          throw new Error(`cannot load the model bundle at ${config.modelPath}: ${reason}`);
        }
        startLearning('no model yet');
      }

      function status(): ModelStatus {
        const active = registry.active;
        const learnState = learner?.state;
        return {
          active: active && models.active ? { name: active.name, version: active.version, kind: active.kind, source: active.source, registeredAt: active.registeredAt } : null,
          pinned: registry.pinned?.version ?? null,
          learn:
            learnState === 'collecting' || learnState === 'training'
              ? { state: learnState, progress: Math.min(1, learner?.progress ?? 0) }
              : learnState === 'failed'
                ? { state: 'failed', progress: 1, reason: learner?.failure ?? 'unknown' }
                : { state: 'idle', progress: 0 },
          kept: registry.entries.map(({ name, version, source, registeredAt, samples }) => ({ name, version, source, registeredAt, samples })),
          ...(delivery?.last ? { lastDelivery: delivery.last } : {}),
          ...(shadow ? { shadow: shadow.report() } : {}),
          ...(lastShadow ? { lastShadow } : {}),
        };
      }
      const operatorReload = async (): Promise<void> => {
        operatorInstall = true;
        try {
          await models.reload();
        } finally {
          operatorInstall = false;
        }
      };
      const carryOut = async (command: ModelCommand): Promise<string | undefined> => {
        switch (command.command) {
          case 'rollback': {
            if (registry.pinned) return `model ${registry.pinned.version} is pinned: unpin it first`;
            const previous = registry.previous();
            if (!previous) return 'no earlier model in the registry';
            await registry.install(previous);
            await operatorReload();
            return models.active?.ref.version === previous.version ? undefined : 'the earlier bundle could not be loaded (see the service log); the model in service is unchanged';
          }
          case 'pin': {
            const wanted = command.version === '' ? registry.active : registry.find(command.version);
            if (!wanted) return command.version === '' ? 'no model in service to pin' : `no model ${command.version} in the registry`;
            await registry.pin(wanted);
            if (registry.active?.id !== wanted.id) {
              await registry.install(wanted);
              await operatorReload();
            }
            announce();
            return undefined;
          }
          case 'unpin':
            if (!registry.pinned) return 'no model is pinned';
            await registry.pin(undefined);
            announce();
            return undefined;
          case 'relearn':
            if (registry.pinned) return `model ${registry.pinned.version} is pinned: unpin it first`;
            if (learner?.state === 'collecting' || learner?.state === 'training') return `learn mode is already ${learner.state}`;
            startLearning(`relearn asked by ${command.by || 'an operator'}`);
            return undefined;
        }
      };
      delivery = config.modelPublicKey
        ? new ModelDelivery(config.modelPath, config.modelPublicKey, () => models.active?.ref.version, async (report) => {
            if (report.outcome === 'installed') await models.reload();
            announce();
          }, logger)
        : undefined;
      link =
        config.mqtt.url === ''
          ? undefined
          : new ModelLink(
              { ...config.mqtt, deviceId: config.deviceId, auditPath: join(dirname(config.modelPath), 'model-commands.jsonl'), fleetTopic: config.modelFleetTopic },
              logger,
              carryOut,
              (archive) => void delivery?.take(archive, 'mqtt'),
            );
      const fleet = delivery;
      if (fleet && config.modelUrl !== '') fleet.watchUrl(config.modelUrl, config.modelUrlCheckS * 1000);
      function announce(): void {
        link?.announce(status());
      }
      announce();
      let lastProgressAnnounced = 0;
      models.watch(config.modelWatchMs);
      const learningRef = { name: 'none', version: 'learning' };
      const expectedFeatures = () => models.active?.bundle.inputSize ?? featureSpec.channels.length * valuesPerChannel(featureSpec.features, featureSpec.windowSize);
      const zeroContributions = Object.fromEntries(featureSpec.channels.map((channel) => [channel, 0]));

      const handle = async (message: FeaturesMessage): Promise<void> => {
        const model = models.active;
        if (message.features.length !== expectedFeatures()) {
          metrics.countMessage('rejected', 'feature_count');
          rejectLog.warn(
            'feature_count',
            { got: message.features.length, expected: expectedFeatures() },
            'feature vector does not match the model: preprocessor and model bundle disagree on the feature spec',
          );
          return;
        }
        let score = 0;
        let weight: number | undefined;
        let level: LevelNews | undefined;
        let contributions: Record<string, number> = zeroContributions;
        link?.noteAsset(message.asset);
        // Learn mode takes normal samples whether or not a model scores meanwhile (a relearn).
        if (!message.warmup && learner?.state === 'collecting') {
          learner.collect(message.features, message.ts);
          // The model topic follows the collection in tenths, not on every sample.
          if (Math.floor(learner.progress * 10) !== lastProgressAnnounced) {
            lastProgressAnnounced = Math.floor(learner.progress * 10);
            announce();
          }
        }
        // Warm-up samples (and all of them while learning with no model) are passed on unscored,
        // so seq stays gap-free downstream and the threshold knows not to judge them.
        if (!message.warmup && model) {
          const started = process.hrtime.bigint();
          ({ score, contributions, weight, level } = model.scorer.score(message.features, message.asset));
          latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
          if (shadow) {
            shadow.observe(message.asset, message.ts, message.features, { score, ...(weight !== undefined ? { weight } : {}), ...(level ? { level } : {}) });
            if (shadow.due) {
              const ended = shadow;
              shadow = undefined;
              await concludeShadow(ended);
            }
          }
        }
        await forward<'score'>(message, {
          kind: 'score',
          score,
          contributions,
          warmup: message.warmup || !model,
          model: model?.ref ?? learningRef,
          ...(model?.scorer.calibrated
            ? {
                calibrated: {
                  ...model.scorer.calibrated,
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
        healthChecks: [{ name: 'model', healthy: () => models.active !== undefined || learner?.state !== 'failed' }],
        parts: [
          { name: 'model-watch', stop: () => models.stop() },
          ...(link ? [{ name: 'model-link', stop: () => link.stop() }] : []),
          ...(fleet ? [{ name: 'model-delivery', stop: async () => fleet.stop() }] : []),
        ],
        started: { model: models.active?.ref ?? learningRef, mode: models.active ? 'scoring' : 'learning' },
      };
    },
  });
  return {
    opsPort: stage.opsPort,
    get bundle() {
      return holder?.active?.bundle;
    },
    stop: () => stage.stop(),
  };
}
