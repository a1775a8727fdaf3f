import {
  AdaptiveThreshold,
  DEFAULT_EVIDENCE_ALARM_SETTINGS,
  initialSurpriseThresholdState,
  initialThresholdState,
  isSurpriseThresholdState,
  isThresholdState,
  SurpriseThreshold,
  type EvidenceAlarmSettings,
  type SurpriseThresholdState,
  type ThresholdSettings,
  type ThresholdState,
} from '@vigil/shared/detection';
import {
  AssetSlots,
  BatchedStateWriter,
  closeRedis,
  connectRedis,
  Counter,
  createRedisClient,
  Gauge,
  RedisJsonState,
  startStage,
  type Logger,
  type RunningStage,
  type ScoreMessage,
} from '@vigil/shared/runtime';
import { SERVICE, type ThresholdConfig } from './config.js';

export type ThresholdService = RunningStage;

const STATE_VALUE = { warmup: 0, normal: 1, anomalous: 2, changed: 3 } as const;

export async function startThresholdService(config: ThresholdConfig, logger: Logger): Promise<ThresholdService> {
  const settings: ThresholdSettings = {
    warmupSamples: config.warmupSamples,
    alpha: config.alpha,
    highSigmas: config.highSigmas,
    lowSigmas: config.lowSigmas,
    enterK: config.enterK,
    enterN: config.enterN,
    exitK: config.exitK,
    exitN: config.exitN,
    maxDrift: config.maxDrift,
    settleFactor: config.settleFactor,
  };
  const alarmSettings: EvidenceAlarmSettings = {
    ...DEFAULT_EVIDENCE_ALARM_SETTINGS,
    falseAlarmsPerWeek: config.falseAlarmsPerWeek,
    clearAfterMs: config.clearAfterMs,
  };
  return startStage({
    stage: SERVICE,
    kind: 'score',
    settings: config,
    logger,
    // Decisions carry the alerts: never shed; a slow publisher makes this stage wait.
    outputLingerMs: 5_000,
    async setup({ metrics, rejectLog, seq: seqTracker, forward }) {
      const registers = [metrics.registry];
      const scoreGauge = new Gauge({ name: 'vigil_anomaly_score', help: 'Latest anomaly score per asset.', labelNames: ['asset'] as const, registers });
      const thresholdGauge = new Gauge({
        name: 'vigil_anomaly_threshold',
        help: 'Adaptive threshold per asset: high (enter anomalous) and low (leave) marks.',
        labelNames: ['asset', 'mark'] as const,
        registers,
      });
      const stateGauge = new Gauge({
        name: 'vigil_asset_state',
        help: 'State per asset: 0 warm-up, 1 normal, 2 anomalous, 3 changed (settled at a new level, not learned).',
        labelNames: ['asset'] as const,
        registers,
      });
      const anomalies = new Counter({
        name: 'vigil_anomalies_total',
        help: 'Times an asset entered the anomalous state.',
        labelNames: ['asset'] as const,
        registers,
      });
      const contributionGauge = new Gauge({
        name: 'vigil_sensor_contribution_ratio',
        help: 'Share of the latest anomaly score per asset and sensor.',
        labelNames: ['asset', 'sensor'] as const,
        registers,
      });

      const redis = createRedisClient(config.redisUrl, logger, metrics);
      await connectRedis(redis, logger);
      // One asset's threshold: adaptive marks over raw scores, or (for calibrated scores) the
      // surprise threshold, which needs no warm-up. Both decide() alike and persist their state.
      type AssetThreshold = AdaptiveThreshold | SurpriseThreshold;
      const isStoredState = (value: unknown): value is ThresholdState | SurpriseThresholdState => isThresholdState(value) || isSurpriseThresholdState(value);
      const store = new RedisJsonState(redis, logger, 'vigil:threshold', isStoredState, 60_000, config.assetStateTtlDays * 86_400);
      const thresholds = new AssetSlots<AssetThreshold>({
        capacity: config.maxAssets,
        idleMs: config.assetIdleS * 1000,
        onEvict: (asset, threshold) => {
          // Its state goes to Redis as it is (the writer no longer sees it), and comes back with it.
          void store.save(asset, threshold.state).catch(() => undefined);
          for (const gauge of [scoreGauge, stateGauge]) gauge.remove({ asset });
          for (const mark of ['high', 'low']) thresholdGauge.remove({ asset, mark });
          contributionGauge.reset();
          seqTracker.forget(asset);
          logger.info({ asset, idleS: config.assetIdleS }, 'asset idle: its slot is given to a new one');
        },
      });
      const writer = new BatchedStateWriter(store, (asset) => thresholds.peek(asset)?.state, config.flushMs, rejectLog, () => thresholds.assets());
      const thresholdOf = (state: ThresholdState | SurpriseThresholdState): AssetThreshold =>
        isSurpriseThresholdState(state) ? new SurpriseThreshold(alarmSettings, state) : new AdaptiveThreshold(settings, state);
      const freshThreshold = (message: ScoreMessage): AssetThreshold =>
        message.calibrated
          ? new SurpriseThreshold(alarmSettings, initialSurpriseThresholdState(message.ts, message.calibrated.samplePeriodMs))
          : new AdaptiveThreshold(settings, initialThresholdState(message.ts));

      const thresholdFor = async (message: ScoreMessage): Promise<AssetThreshold | undefined> => {
        const existing = thresholds.get(message.asset);
        if (existing) return existing;
        if (!thresholds.makeRoom(message.asset)) return undefined;
        const stored = await store.load(message.asset);
        const threshold = stored ? thresholdOf(stored) : freshThreshold(message);
        thresholds.set(message.asset, threshold);
        logger.info({ asset: message.asset, state: threshold.state.state, restored: stored !== undefined }, 'new asset');
        return threshold;
      };


      const handle = async (message: ScoreMessage): Promise<void> => {
        let threshold = await thresholdFor(message);
        if (!threshold) {
          metrics.countMessage('rejected', 'too_many_assets');
          rejectLog.warn('too_many_assets', { asset: message.asset, maxAssets: config.maxAssets }, 'every asset slot is in use by an asset heard from within VIGIL_ASSET_IDLE_S: score refused (VIGIL_ADAPTIVE_THRESHOLD_MAX_ASSETS)');
          return;
        }
        const model = `${message.model.name}@${message.model.version}`;
        const kindMatches = (threshold instanceof SurpriseThreshold) === (message.calibrated !== undefined);
        if (!message.warmup && (!kindMatches || threshold.state.model !== model)) {
          if (!kindMatches || threshold.state.model !== undefined) {
            // A new model (hot-swapped, or just learned) scores on its own scale: a threshold of its own.
            logger.info({ asset: message.asset, from: threshold.state.model, to: model, calibrated: message.calibrated !== undefined }, 'model changed; a new threshold');
            threshold = freshThreshold(message);
            thresholds.set(message.asset, threshold);
          }
          threshold.state.model = model;
        }
        const decision =
          threshold instanceof SurpriseThreshold
            ? threshold.decide(message.score, message.ts, !message.warmup, message.calibrated?.weight, message.calibrated)
            : threshold.decide(message.score, message.ts, !message.warmup);
        if (!message.warmup) writer.markDirty(message.asset);
        if (decision.changed) {
          logger.info({ asset: message.asset, seq: message.seq, state: decision.state, score: message.score, high: decision.high }, 'state changed');
          if (decision.state === 'anomalous') anomalies.inc({ asset: message.asset });
          // A state change is written at once, not at the next flush: it is what a restart must not lose.
          writer.flushSoon();
        }
        await forward<'decision'>(message, {
          kind: 'decision',
          state: decision.state,
          changed: decision.changed,
          since: decision.since,
          score: message.score,
          threshold: { high: decision.high, low: decision.low },
          contributions: message.contributions,
          model: message.model,
        });
        if (!message.warmup) {
          scoreGauge.set({ asset: message.asset }, message.score);
          for (const [sensor, share] of Object.entries(message.contributions)) contributionGauge.set({ asset: message.asset, sensor }, share);
        }
        thresholdGauge.set({ asset: message.asset, mark: 'high' }, decision.high);
        thresholdGauge.set({ asset: message.asset, mark: 'low' }, decision.low);
        stateGauge.set({ asset: message.asset }, STATE_VALUE[decision.state]);
        metrics.completed(message.ingestTs);
      };

      return {
        handle,
        healthChecks: [{ name: 'asset_slots', healthy: () => !thresholds.refusedWithin(60_000) }],
        parts: [
          { name: 'redis', stop: () => closeRedis(redis) },
          { name: 'state-writer', stop: () => writer.stop() },
        ],
      };
    },
  });
}
