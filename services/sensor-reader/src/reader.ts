import {
  connectRedis,
  createRedisClient,
  encodeMessage,
  Gauge,
  numberToReadingValue,
  preciseNowMs,
  readCpuTemperatureCelsius,
  SCHEMA_VERSION,
  startSourceStage,
  TTL_REFRESH_MS,
  type Logger,
  type ReadingMessage,
  type RunningService,
} from '@vigil/shared/runtime';
import { SERVICE, type SensorReaderConfig } from './config.js';
import { faultRoutes } from './fault-routes.js';
import { AssetAdmission } from './asset-admission.js';
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
  let source: SampleSource | undefined;
  const stage = await startSourceStage({
    stage: SERVICE,
    settings: config,
    logger,
    async setup({ metrics, rejectLog, output }) {
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
      rateGauge.set(config.rateHz);
      targetRateGauge.set(config.rateHz);
      limitedGauge.set({ reason: 'thermal' }, 0);

      const produced = createSource(config, (peer, up, detail) => {
        metrics.connectionUp.set({ peer }, up ? 1 : 0);
        if (up) logger.info({ peer, endpoint: detail }, 'source connected');
        else logger.warn({ peer, err: detail }, 'source link down');
      });
      source = produced;
      const redis = createRedisClient(config.redisUrl, logger, metrics);
      await connectRedis(redis, logger);
      const seq = new SeqAllocator(redis, logger, 1_000, config.assetStateTtlDays * 86_400);

      const send = (sample: RawSample): Promise<void> => {
        const message: ReadingMessage = {
          v: SCHEMA_VERSION,
          kind: 'reading',
          asset: sample.asset,
          seq: seq.next(sample.asset),
          ts: sample.ts,
          ingestTs: preciseNowMs(),
          channels: Object.fromEntries(Object.entries(sample.channels).map(([channel, value]) => [channel, numberToReadingValue(value)])),
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
      const admission = new AssetAdmission(config, metrics, rejectLog, (asset) => seq.forget(asset));
      const ttlRefresh = setInterval(() => {
        seq.refresh(admission.assets()).catch((error: unknown) => rejectLog.warn('seq_refresh', { err: String(error) }, 'could not refresh seq counter TTLs'));
      }, TTL_REFRESH_MS);
      ttlRefresh.unref();
      const emit = (sample: RawSample): Promise<void> | undefined => {
        if (!admission.admit(sample.asset)) return undefined;
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

      const governor = new ThermalGovernor(
        config.thermal,
        config.rateHz,
        () => readCpuTemperatureCelsius(config.sysfsRoot),
        ({ rateHz, reason }, temperatureC) => {
          produced.setRate?.(rateHz);
          rateGauge.set(rateHz);
          limitedGauge.set({ reason: 'thermal' }, reason === 'thermal' ? 1 : 0);
          logger.warn({ rateHz, temperatureC, softLimitC: config.thermal.softLimitC }, 'sample rate changed by the thermal governor');
        },
      );
      return {
        start: async () => {
          await produced.start(emit, (reason, detail) => {
            metrics.countMessage('rejected', reason);
            rejectLog.warn(reason, { reason, detail }, 'source input rejected');
          });
          if (produced.setRate && readCpuTemperatureCelsius(config.sysfsRoot) !== undefined) governor.start(config.thermal.checkMs);
        },
        // Unhealthy while a new asset may be shut out: one refused for want of a slot lately.
        healthChecks: [{ name: 'asset_slots', healthy: () => !admission.refusedWithin(60_000) }],
        routes: produced instanceof SimulatorSource ? faultRoutes(produced, config.faultToken) : {},
        parts: [
          { name: 'redis', stop: () => void redis.disconnect() },
          // After the source (parts stop in reverse): no number is taken once the rest is handed back.
          { name: 'seq', stop: () => seq.release() },
          { name: 'ttl-refresh', stop: () => clearInterval(ttlRefresh) },
          { name: 'source', stop: () => produced.stop() },
          { name: 'thermal-governor', stop: () => governor.stop() },
        ],
        started: { source: produced.name, asset: config.asset },
      };
    },
  });
  return { opsPort: stage.opsPort, source: source as SampleSource, stop: () => stage.stop() };
}
