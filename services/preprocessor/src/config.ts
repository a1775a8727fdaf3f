import {
  assetSpecsOf,
  assetsSchema,
  commonSchema,
  ConfigChecks,
  featureSpecSchema,
  defaultInputEndpoint,
  STAGE_QUEUE_HWM,
  defaultOutputEndpoint,
  envPrefix,
  loadConfig,
  redisUrlSetting,
  type StageName,
  TOPOLOGY,
} from '@vigil/shared/runtime';
import { parseLimits, DEFAULT_CLEANER_POLICIES, DEFAULT_FORWARD_FILL_LIMIT, PUMP_PHYSICAL_LIMITS } from '@vigil/shared/features';

export const SERVICE = 'preprocessor' satisfies StageName;
const ENV = envPrefix(SERVICE);
const POLICY = ['impute', 'reject'];

export const schema = {
  ...commonSchema(SERVICE, TOPOLOGY[SERVICE].opsPort),
  redisUrl: redisUrlSetting,
  input: {
    endpoint: { doc: 'ZeroMQ endpoint this stage binds for readings: loopback unless the stages run on separate hosts or containers, which needs the pipeline key (VIGIL_PIPE_KEY_FILE or VIGIL_PIPE_SECRET_KEY).', format: 'zmq-endpoint', default: defaultInputEndpoint(SERVICE), env: `${ENV}_INPUT` },
    highWaterMark: { doc: 'Readings buffered at the input before the sender must wait.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_INPUT_HWM` },
  },
  output: {
    endpoint: { doc: 'ZeroMQ endpoint of the inference input.', format: 'zmq-endpoint', default: defaultOutputEndpoint(SERVICE), env: `${ENV}_OUTPUT` },
    highWaterMark: { doc: 'Feature messages queued for inference before this stage waits.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_OUTPUT_HWM` },
  },
  ...featureSpecSchema(),
  ...assetsSchema,
  limits: {
    doc: 'Physical limits channel:min:max, comma-separated; a value outside is out_of_range.',
    format: 'string-list',
    default: Object.entries(PUMP_PHYSICAL_LIMITS).map(([channel, { min, max }]) => `${channel}:${min}:${max}`),
    env: `${ENV}_LIMITS`,
  },
  policy: {
    missing: { doc: 'A channel missing from a reading: impute or reject.', format: POLICY, default: DEFAULT_CLEANER_POLICIES.missing, env: `${ENV}_POLICY_MISSING` },
    nonFinite: { doc: 'NaN or Infinity: impute or reject.', format: POLICY, default: DEFAULT_CLEANER_POLICIES.non_finite, env: `${ENV}_POLICY_NON_FINITE` },
    outOfRange: { doc: 'Outside the physical limits: impute or reject.', format: POLICY, default: DEFAULT_CLEANER_POLICIES.out_of_range, env: `${ENV}_POLICY_OUT_OF_RANGE` },
  },
  forwardFillLimit: {
    doc: 'Most readings in a row a channel may be imputed by forward fill before readings are rejected.',
    format: 'nat',
    default: DEFAULT_FORWARD_FILL_LIMIT,
    env: `${ENV}_FORWARD_FILL_LIMIT`,
  },
  scalerFlushMs: {
    doc: 'How often changed scaler statistics are written to Redis (batched off the hot path).',
    format: 'positive-int',
    default: 1000,
    env: `${ENV}_SCALER_FLUSH_MS`,
  },
  maxAssets: { doc: 'Most assets one preprocessor tracks (bounds memory and metric labels).', format: 'positive-int', default: 32, env: `${ENV}_MAX_ASSETS` },
};

export type PreprocessorConfig = ReturnType<typeof loadPreprocessorConfig>;

/** The settings, validated, with the physical limits parsed: every problem in one start-up error. */
export function loadPreprocessorConfig(overrides: Record<string, unknown> = {}) {
  const config = loadConfig(schema, overrides);
  const checks = new ConfigChecks();
  const physicalLimits = checks.parse(() => parseLimits(config.limits)) ?? {};
  const assetSpecs = checks.parse(() => assetSpecsOf(config)) ?? new Map();
  checks.require(assetSpecs.size <= config.maxAssets, `the assets file names ${assetSpecs.size} assets, more than VIGIL_PREPROCESSOR_MAX_ASSETS (${config.maxAssets}): raise it`);
  checks.done();
  return { ...config, physicalLimits, assetSpecs };
}
