import {
  connectRedis,
  createRedisClient,
  Counter,
  createServiceMetrics,
  encodeMessage,
  Gauge,
  isValidAssetId,
  numberToReadingValue,
  OpsServer,
  preciseNowMs,
  PushPipe,
  AssetSlots,
  TTL_REFRESH_MS,
  pipeGuard,
  RateLimitedLog,
  readCpuTemperatureCelsius,
  SCHEMA_VERSION,
  stopAll,
  type Logger,
  type ReadingMessage,
  type RunningService,
} from '@vigil/shared';
import { SERVICE, type SensorReaderConfig } from './config.js';
import { faultRoutes } from './fault-routes.js';
import type { RawSample, SampleSource } from './sample-source.js';
import { SeqAllocator } from './seq-allocator.js';
import { SimulatorSource } from './simulator-source.js';
import { createSource } from './sources.js';
import { ThermalGovernor } from './thermal-governor.js';

export interface SensorReader extends RunningService {
  readonly opsPort: number;
  readonly source: SampleSource;
}

/** Samples waiting for their asset's first seq block (only the first moments of a new asset). */
const MAX_PENDING_PER_ASSET = 1_000;

export async function startSensorReader(config: SensorReaderConfig, logger: Logger): Promise<SensorReader> {
  const metrics = createServiceMetrics(SERVICE, config.sysfsRoot, logger);
  const rejectLog = new RateLimitedLog(logger);
  const registers = [metrics.registry];
  const rateGauge = new Gauge({ name: 'vigil_sample_rate_hz', help: 'Current sample rate of the sensor-reader.', registers });
  const targetRateGauge = new Gauge({ name: 'vigil_sample_rate_target_hz', help: 'Configured sample rate.', registers });
  const limitedGauge = new Gauge({
    name: 'vigil_sample_rate_limited',
    help: 'Whether the sample rate is below the configured one, by reason (1 yes, 0 no).',
    labelNames: ['reason'] as const,
    registers,
  });
  new Gauge({
    name: 'vigil_thermal_soft_limit_celsius',
    help: 'CPU temperature above which the sensor-reader lowers its sample rate.',
    registers,
  }).set(config.thermal.softLimitC);
  const outputResets = new Counter({
    name: 'vigil_output_socket_resets_total',
    help: 'Times the output socket was replaced after refusing every reading for the stall limit.',
    registers,
  });
  rateGauge.set(config.rateHz);
  targetRateGauge.set(config.rateHz);
  limitedGauge.set({ reason: 'thermal' }, 0);

  const source = createSource(config);
  const redis = createRedisClient(config.redisUrl, logger, metrics);
  await connectRedis(redis, logger);
  const seq = new SeqAllocator(redis, logger, 1_000, config.assetStateTtlDays * 86_400);
  const guard = pipeGuard(config, metrics, rejectLog);
  const output = new PushPipe({
    endpoint: config.output.endpoint,
    ...guard.output,
    highWaterMark: config.output.highWaterMark,
    // By default a reading that cannot be queued is shed at the source, counted, and visible as a
    // seq gap downstream: a stalled pipeline must not grow this process without bound.
    whenFull: config.output.whenFull,
    lingerMs: 2_000,
    stallResetMs: config.output.stallResetMs,
    onStallReset: (stalledMs) => {
      outputResets.inc();
      logger.warn({ stalledMs, endpoint: config.output.endpoint }, 'output refused every reading; replaced its socket (what it held is shed, visible as a seq gap)');
    },
  });

  const send = (sample: RawSample): Promise<void> => {
    const message: ReadingMessage = {
      v: SCHEMA_VERSION,
      kind: 'reading',
      asset: sample.asset,
      seq: seq.next(sample.asset),
      ts: sample.ts,
      ingestTs: preciseNowMs(),
      channels: Object.fromEntries(
        Object.entries(sample.channels).map(([channel, value]) => [channel, numberToReadingValue(value)]),
      ),
    };
    return output.send(encodeMessage(message)).then(
      (queued) => metrics.countMessage(queued ? 'ok' : 'dropped', queued ? 'none' : 'output_full'),
      (error: unknown) => {
        metrics.countMessage('dropped', 'send_error');
        rejectLog.warn('send_error', { err: String(error) }, 'could not send a reading');
      },
    );
  };

  const pending = new Map<string, RawSample[]>();
  const blocking = config.output.whenFull === 'block';
  // Asset names come from the source (an MQTT payload, a CSV): each new one costs a Redis key and
  // a slot downstream, so a name is checked, and the names bounded, before any of that. The
  // configured asset always keeps its slot; a name silent for VIGIL_ASSET_IDLE_S gives its slot up.
  const admitted = new AssetSlots<true>({
    capacity: config.maxAssets,
    idleMs: config.assetIdleS * 1000,
    pinned: [config.asset, ...config.assets],
    onEvict: (asset) => seq.forget(asset),
  });
  admitted.set(config.asset, true);
  const listed = new Set([config.asset, ...config.assets]);
  const admit = (asset: string): boolean => {
    if (admitted.get(asset)) return true;
    if (!isValidAssetId(asset)) {
      metrics.countMessage('rejected', 'bad_asset');
      rejectLog.warn('bad_asset', { asset: JSON.stringify(asset.slice(0, 80)) }, 'asset id refused: 1-64 characters of A-Z a-z 0-9 _ . -');
      return false;
    }
    if (config.assets.length > 0 && !listed.has(asset)) {
      metrics.countMessage('rejected', 'unlisted_asset');
      rejectLog.warn('unlisted_asset', { asset }, 'asset not in VIGIL_SENSOR_READER_ASSETS: readings refused');
      return false;
    }
    if (!admitted.makeRoom(asset)) {
      metrics.countMessage('rejected', 'too_many_assets');
      rejectLog.warn('too_many_assets', { asset, maxAssets: config.maxAssets }, 'asset limit reached: readings of a new asset refused (VIGIL_SENSOR_READER_MAX_ASSETS)');
      return false;
    }
    admitted.set(asset, true);
    return true;
  };
  const ttlRefresh = setInterval(() => {
    seq.refresh(admitted.assets()).catch((error: unknown) => rejectLog.warn('seq_refresh', { err: String(error) }, 'could not refresh seq counter TTLs'));
  }, TTL_REFRESH_MS);
  ttlRefresh.unref();
  const emit = (sample: RawSample): Promise<void> | undefined => {
    if (!admit(sample.asset)) return undefined;
    if (seq.isPrepared(sample.asset)) {
      const sent = send(sample);
      // Only a blocking output makes the source wait; otherwise sends complete in the background.
      return blocking ? sent : undefined;
    }
    const waiting = pending.get(sample.asset);
    if (waiting) {
      if (waiting.length < MAX_PENDING_PER_ASSET) waiting.push(sample);
      else metrics.countMessage('dropped', 'seq_not_ready');
      return undefined;
    }
    pending.set(sample.asset, [sample]);
    const prepared = seq.prepare(sample.asset).then(() => {
      for (const queued of pending.get(sample.asset) ?? []) void send(queued);
      pending.delete(sample.asset);
    });
    return blocking ? prepared : undefined;
  };

  // The configured asset's seq block is reserved before the first reading, so no reading waits.
  await seq.prepare(config.asset);

  // Serving /metrics and /healthz first: a reader waiting for its peer is alive, and says so.
  const ops = await OpsServer.start({
    host: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    // Unhealthy while a new asset may be shut out: one refused for want of a slot lately.
    healthChecks: [{ name: 'asset_slots', healthy: () => !admitted.refusedWithin(60_000) }],
    routes: source instanceof SimulatorSource ? faultRoutes(source, config.faultToken) : {},
  });
  if (!(await output.waitForPeer(5_000))) {
    logger.warn({ output: config.output.endpoint }, 'preprocessor not connected yet; readings are shed (and counted) until it is');
  }
  await source.start(emit, (reason, detail) => {
    metrics.countMessage('rejected', reason);
    rejectLog.warn(reason, { reason, detail }, 'source input rejected');
  });

  const governor = new ThermalGovernor(
    config.thermal,
    config.rateHz,
    () => readCpuTemperatureCelsius(config.sysfsRoot),
    ({ rateHz, reason }, temperatureC) => {
      source.setRate?.(rateHz);
      rateGauge.set(rateHz);
      limitedGauge.set({ reason: 'thermal' }, reason === 'thermal' ? 1 : 0);
      logger.warn({ rateHz, temperatureC, softLimitC: config.thermal.softLimitC }, 'sample rate changed by the thermal governor');
    },
  );
  if (source.setRate && readCpuTemperatureCelsius(config.sysfsRoot) !== undefined) governor.start(config.thermal.checkMs);

  logger.info({ source: source.name, asset: config.asset, output: config.output.endpoint, opsPort: ops.port }, 'reading');

  return {
    opsPort: ops.port,
    source,
    stop: async () => {
      const clean = await stopAll(
        [
          { name: 'ops-server', stop: () => ops.stop() },
          { name: 'redis', stop: () => void redis.disconnect() },
          { name: 'output', stop: () => output.close() },
          { name: 'source', stop: () => source.stop() },
          { name: 'thermal-governor', stop: () => governor.stop() },
          { name: 'ttl-refresh', stop: () => clearInterval(ttlRefresh) },
        ],
        logger,
      );
      if (!clean) throw new Error('sensor-reader did not stop cleanly');
    },
  };
}
