import {
  createServiceMetrics,
  Counter,
  encodeMessage,
  Gauge,
  Histogram,
  LATENCY_BUCKETS_SECONDS,
  loadBundle,
  OpsServer,
  RateLimitedLog,
  ReconstructionScorer,
  openStagePipes,
  runStageLoop,
  SCHEMA_VERSION,
  SeqTracker,
  stopAll,
  stopStageSockets,
  type FeaturesMessage,
  type LoadedBundle,
  type Logger,
  type RunningService,
} from '@vigil/shared';
import { SERVICE, type InferenceConfig } from './config.js';

export interface Inference extends RunningService {
  readonly opsPort: number;
  readonly bundle: LoadedBundle;
}

export async function startInference(config: InferenceConfig, logger: Logger): Promise<Inference> {
  const metrics = createServiceMetrics(SERVICE, config.sysfsRoot, logger);
  const rejectLog = new RateLimitedLog(logger);
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

  // Loaded once, here, and kept: never per prediction.
  let bundle: LoadedBundle;
  try {
    bundle = await loadBundle(config.modelPath);
    modelLoads.inc({ outcome: 'ok' });
  } catch (error) {
    modelLoads.inc({ outcome: 'rejected' });
    throw new Error(`cannot load the model bundle at ${config.modelPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { manifest } = bundle;
  modelInfo.set({ name: manifest.name, version: manifest.version, kind: manifest.kind, format: 'fp32' }, 1);
  const scorer = new ReconstructionScorer(
    bundle.network,
    manifest.featureSpec.channels,
    manifest.featureSpec.features.length,
    manifest.training.residualScale,
  );
  const model = { name: manifest.name, version: manifest.version };
  const zeroContributions = Object.fromEntries(manifest.featureSpec.channels.map((channel) => [channel, 0]));

  const { input, output } = await openStagePipes(config);

  const handle = async (message: FeaturesMessage): Promise<void> => {
    if (message.features.length !== bundle.network.inputSize) {
      metrics.countMessage('rejected', 'feature_count');
      rejectLog.warn(
        'feature_count',
        { got: message.features.length, expected: bundle.network.inputSize },
        'feature vector does not match the model: preprocessor and model bundle disagree on the feature spec',
      );
      return;
    }
    let score = 0;
    let contributions = zeroContributions;
    // Warm-up samples are passed on unscored so seq stays gap-free downstream.
    if (!message.warmup) {
      const started = process.hrtime.bigint();
      ({ score, contributions } = scorer.score(message.features));
      latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    await output.send(
      encodeMessage({
        v: SCHEMA_VERSION,
        kind: 'score',
        asset: message.asset,
        seq: message.seq,
        ts: message.ts,
        ingestTs: message.ingestTs,
        score,
        contributions,
        warmup: message.warmup,
        model,
      }),
    );
    metrics.countMessage('ok');
    metrics.stageLatency.observe({ stage: SERVICE }, (Date.now() - message.ingestTs) / 1000);
  };

  const loop = runStageLoop({ input, kind: 'features', metrics, seq: new SeqTracker(metrics, SERVICE), rejectLog, handle });
  const ops = await OpsServer.start({
    host: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    healthChecks: [{ name: 'model', healthy: () => true }],
  });
  logger.info(
    { model, features: manifest.featureNames.length, weightBytes: bundle.network.weightBytes, opsPort: ops.port },
    'model loaded; scoring',
  );

  return {
    opsPort: ops.port,
    bundle,
    stop: async () => {
      const clean = await stopAll(
        [
          { name: 'ops-server', stop: () => ops.stop() },
          { name: 'pipes', stop: () => stopStageSockets(input, loop, output) },
        ],
        logger,
      );
      if (!clean) throw new Error('inference did not stop cleanly');
    },
  };
}
