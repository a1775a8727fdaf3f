import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, startStage, type FeaturesMessage, type Logger, type RunningService } from '@vigil/shared/runtime';
import type { LevelNews } from '@vigil/shared/detection';
import { loadBundle, modelKindFor, type LoadedBundle } from '@vigil/shared/model';
import { valuesPerChannel, type FeatureSpec } from '@vigil/shared/features';
import { SERVICE, type InferenceConfig } from './config.js';
import { Learner } from './learner.js';
import { ModelHolder } from './model-holder.js';

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
      await models.reload();
      const featureSpec: FeatureSpec = {
        channels: config.channels,
        features: config.features,
        windowSize: config.windowSize,
        scalerWarmup: config.scalerWarmup,
      };
      // Refused at start, not after minutes of collecting: features the learner could not train on.
      modelKindFor(featureSpec.features, config.learn.model);
      let learner: Learner | undefined;
      if (!models.active) {
        if ((await models.bundlePresent()) || !config.learn.enabled) {
          const reason = await loadBundle(config.modelPath).then(
            () => 'it changed while loading',
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          );
          throw new Error(`cannot load the model bundle at ${config.modelPath}: ${reason}`);
        }
        learner = new Learner({ samples: config.learn.samples, epochs: config.learn.epochs, precision: config.learn.precision, model: config.learn.model, featureSpec, modelPath: config.modelPath }, logger, async () => {
          await models.reload();
        });
        logger.info({ samples: config.learn.samples, modelPath: config.modelPath }, 'no model yet: learn mode, learning what normal looks like');
      }
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
        // Warm-up samples (and all of them while learning) are passed on unscored, so seq stays
        // gap-free downstream and the threshold knows not to judge them.
        if (!message.warmup && model) {
          const started = process.hrtime.bigint();
          ({ score, contributions, weight, level } = model.scorer.score(message.features, message.asset));
          latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        } else if (!message.warmup) {
          learner?.collect(message.features, message.ts);
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
        parts: [{ name: 'model-watch', stop: () => models.stop() }],
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
