import {
  commonSchema,
  ConfigError,
  defaultInputEndpoint,
  STAGE_QUEUE_HWM,
  defaultOutputEndpoint,
  envPrefix,
  loadConfig,
  redisUrlSetting,
  type StageName,
  TOPOLOGY,
} from '@vigil/shared/runtime';
import { DEFAULT_EVIDENCE_ALARM_SETTINGS, DEFAULT_THRESHOLD_SETTINGS as D } from '@vigil/shared/detection';

export const SERVICE = 'adaptive-threshold' satisfies StageName;
const ENV = envPrefix(SERVICE);

export const schema = {
  ...commonSchema(SERVICE, TOPOLOGY[SERVICE].opsPort),
  redisUrl: redisUrlSetting,
  input: {
    endpoint: { doc: 'ZeroMQ endpoint this stage binds for scores: loopback unless the stages run on separate hosts or containers, which needs the pipeline key (VIGIL_PIPE_KEY_FILE or VIGIL_PIPE_SECRET_KEY).', format: 'zmq-endpoint', default: defaultInputEndpoint(SERVICE), env: `${ENV}_INPUT` },
    highWaterMark: { doc: 'Scores buffered at the input.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_INPUT_HWM` },
  },
  output: {
    endpoint: { doc: 'ZeroMQ endpoint of the alert-publisher input.', format: 'zmq-endpoint', default: defaultOutputEndpoint(SERVICE), env: `${ENV}_OUTPUT` },
    highWaterMark: { doc: 'Decisions queued for the alert-publisher; when full this stage waits (decisions are never dropped).', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_OUTPUT_HWM` },
  },
  warmupSamples: { doc: 'Scored samples that set the initial score statistics.', format: 'positive-int', default: D.warmupSamples, env: `${ENV}_WARMUP` },
  alpha: { doc: 'EWMA weight of each normal sample in the score statistics.', format: 'positive-number', default: D.alpha, env: `${ENV}_ALPHA` },
  highSigmas: { doc: 'High mark: standard deviations of log(score) above the mean.', format: 'positive-number', default: D.highSigmas, env: `${ENV}_HIGH_SIGMAS` },
  lowSigmas: { doc: 'Low mark: standard deviations of log(score) above the mean.', format: 'positive-number', default: D.lowSigmas, env: `${ENV}_LOW_SIGMAS` },
  enterK: { doc: 'Anomalous when k of the last n samples are above the high mark: k.', format: 'positive-int', default: D.enterK, env: `${ENV}_ENTER_K` },
  enterN: { doc: 'Anomalous when k of the last n samples are above the high mark: n.', format: 'positive-int', default: D.enterN, env: `${ENV}_ENTER_N` },
  exitK: { doc: 'Normal again when k of the last n samples are below the low mark: k.', format: 'positive-int', default: D.exitK, env: `${ENV}_EXIT_K` },
  exitN: { doc: 'Normal again when k of the last n samples are below the low mark: n.', format: 'positive-int', default: D.exitN, env: `${ENV}_EXIT_N` },
  maxDrift: {
    doc: 'How far (a factor) the marks may drift from where the warm-up put them; bounds how much slow change is accepted as normal.',
    format: 'positive-number',
    default: D.maxDrift,
    env: `${ENV}_MAX_DRIFT`,
  },
  settleFactor: {
    doc: 'An alarm also ends when its last exitN scores are all this factor below its own level, though above the low mark (the machine settled in a changed state); a new alarm then needs the same rise. 0: off.',
    format: 'non-negative-number',
    default: D.settleFactor ?? 0,
    env: `${ENV}_SETTLE_FACTOR`,
  },
  falseAlarmsPerWeek: {
    doc: 'For calibrated scores (the default detector): the false alarms a week the alarm is set for. Lower is quieter and slower; the evidence needed grows with log10 of samples a week over this.',
    format: 'positive-number',
    default: DEFAULT_EVIDENCE_ALARM_SETTINGS.falseAlarmsPerWeek,
    env: `${ENV}_FALSE_ALARMS_PER_WEEK`,
  },
  clearAfterMs: {
    doc: 'For calibrated scores: how long the evidence must stay gone before an alarm ends (at least three samples however slow the rate).',
    format: 'positive-int',
    default: DEFAULT_EVIDENCE_ALARM_SETTINGS.clearAfterMs,
    env: `${ENV}_CLEAR_AFTER_MS`,
  },
  flushMs: { doc: 'How often changed threshold state is written to Redis.', format: 'positive-int', default: 1000, env: `${ENV}_FLUSH_MS` },
  maxAssets: { doc: 'Most assets tracked (bounds memory and metric labels).', format: 'positive-int', default: 32, env: `${ENV}_MAX_ASSETS` },
};

export type ThresholdConfig = ReturnType<typeof loadThresholdConfig>;

export function loadThresholdConfig(overrides: Record<string, unknown> = {}) {
  const config = loadConfig(schema, overrides);
  const problems: string[] = [];
  if (config.enterK > config.enterN) problems.push('enterK must not exceed enterN');
  if (config.exitK > config.exitN) problems.push('exitK must not exceed exitN');
  if (config.lowSigmas >= config.highSigmas) problems.push('lowSigmas must be below highSigmas');
  if (config.maxDrift < 1) problems.push('maxDrift must be at least 1');
  if (config.settleFactor !== 0 && config.settleFactor <= 1) problems.push('settleFactor must be 0 (off) or above 1');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
