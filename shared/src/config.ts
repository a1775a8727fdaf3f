// The only module that reads process.env: every service builds its settings through loadConfig.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import convict from 'convict';
import { isValidAssetId } from './messages.js';
import { isCurveKey } from './pipe-keys.js';
import { isWindowFeature, WINDOW_FEATURES, type WindowFeature } from './features/window-features.js';
import { DEFAULT_FEATURE_SPEC } from './features/pump-channels.js';

export type { WindowFeature };
import { defaultDeviceId } from './device-identity.js';

/** Worked out once, from balena's variables or the host (device-identity.ts). */
const DEFAULT_DEVICE_ID = defaultDeviceId(process.env, hostname(), existsSync('/.dockerenv') || existsSync('/run/.containerenv'));

export type ConfigSchema<T> = convict.Schema<T>;

/** Every problem found in the settings, not just the first, so one restart fixes them all. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}

/** A variable's comma-separated list, items trimmed, empty ones dropped. */
function commaList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

convict.addFormat({
  name: 'positive-number',
  validate(value: unknown) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new Error('must be a positive number');
    }
  },
  coerce: (value: string) => Number(value),
});

convict.addFormat({
  name: 'non-negative-number',
  validate(value: unknown) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error('must be a number, 0 or more');
    }
  },
  coerce: (value: string) => Number(value),
});

convict.addFormat({
  name: 'positive-int',
  validate(value: unknown) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new Error('must be a positive integer');
    }
  },
  coerce: (value: string) => Number(value),
});

convict.addFormat({
  name: 'non-empty-string',
  validate(value: unknown) {
    if (typeof value !== 'string' || value.trim() === '') throw new Error('must be a non-empty string');
  },
});

convict.addFormat({
  name: 'asset-id',
  validate(value: unknown) {
    if (!isValidAssetId(value)) throw new Error('must be 1-64 characters of A-Z a-z 0-9 _ . - (every stage refuses other asset ids)');
  },
});

convict.addFormat({
  name: 'asset-id-list',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((item) => !isValidAssetId(item))) throw new Error('must be comma-separated asset ids, each 1-64 characters of A-Z a-z 0-9 _ . -');
  },
  coerce: commaList,
});

convict.addFormat({
  name: 'device-id',
  validate(value: unknown) {
    // It is a level of every MQTT topic: '/', '+' or '#' in it and the broker refuses every message.
    if (!isValidAssetId(value)) throw new Error("must be 1-64 characters of A-Z a-z 0-9 _ . - (it is an MQTT topic level: '/', '+' and '#' would make the broker refuse every message)");
  },
});

/**
 * A URL with one of `schemes` and, if it names one, a numeric port. The error never repeats the
 * value: it may hold a password.
 */
function urlFormat(name: string, schemes: readonly string[], example: string, optional = false): void {
  convict.addFormat({
    name,
    validate(value: unknown) {
      if (optional && value === '') return;
      let url: URL | undefined;
      try {
        url = new URL(String(value));
      } catch {
        url = undefined;
      }
      if (!url || !schemes.includes(url.protocol) || url.hostname === '') {
        throw new Error(`must be a URL such as ${example} (${schemes.join(' ')}; the value is not repeated here, it may hold a password)`);
      }
    },
  });
}
urlFormat('redis-url', ['redis:', 'rediss:'], 'redis://[user:password@]host:6379[/db]');
urlFormat('redis-url-or-empty', ['redis:', 'rediss:'], 'redis://[user:password@]host:6379[/db] (or empty)', true);
urlFormat('mqtt-url', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'], 'mqtt://[user:password@]host:1883');
urlFormat('mqtt-url-or-empty', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'], 'mqtt://[user:password@]host:1883 (or empty)', true);
urlFormat('opcua-url', ['opc.tcp:'], 'opc.tcp://host:4840');
urlFormat('http-url-or-empty', ['http:', 'https:'], 'https://host/path (or empty)', true);

convict.addFormat({
  name: 'device-id-or-empty',
  validate(value: unknown) {
    if (value !== '' && !isValidAssetId(value)) throw new Error("must be empty or 1-64 characters of A-Z a-z 0-9 _ . - (it is an MQTT topic level)");
  },
});

convict.addFormat({
  name: 'curve-key-or-empty',
  validate(value: unknown) {
    if (value !== '' && !isCurveKey(value)) throw new Error('must be a CURVE secret key, 40 characters of Z85 (make one with: npm run keygen)');
  },
});

convict.addFormat({
  name: 'zmq-endpoint',
  validate(value: unknown) {
    if (typeof value !== 'string' || !/^(tcp|ipc|inproc):\/\/\S+$/.test(value)) {
      throw new Error('must be a ZeroMQ endpoint such as tcp://127.0.0.1:5556');
    }
  },
});

convict.addFormat({
  name: 'iso-date',
  validate(value: unknown) {
    if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isFinite(Date.parse(value))) {
      throw new Error('must be a date, YYYY-MM-DD');
    }
  },
});

convict.addFormat({
  name: 'window-features',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.length === 0 || value.some((item) => !isWindowFeature(item))) {
      throw new Error(`must be a comma-separated list of ${WINDOW_FEATURES.join(', ')}`);
    }
  },
  coerce: commaList,
});

convict.addFormat({
  name: 'string-list',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
      throw new Error('must be a comma-separated list of names');
    }
  },
  coerce: commaList,
});

/**
 * Builds and strictly validates a service's settings from its schema and the environment.
 * Unknown keys are errors, so a typo in an override file is caught at start, not ignored.
 */
export function loadConfig<T>(
  schema: ConfigSchema<T>,
  overrides: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): T {
  const problems: string[] = [];
  let config: convict.Config<T>;
  try {
    config = convict(schema, { env, args: [] });
    config.load(overrides as never);
    config.validate({ allowed: 'strict' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    problems.push(...message.split('\n').filter((line) => line.trim() !== ''));
    throw new ConfigError(problems);
  }
  return config.getProperties();
}

/**
 * Runs a service's own checks on settings the schema has already validated: each parse or
 * cross-key check that throws becomes one problem, and all of them come back in one ConfigError,
 * so a user sees every mistake at once, each naming its variable.
 */
export class ConfigChecks {
  readonly problems: string[] = [];

  /** The parsed value, or undefined with the problem recorded. */
  parse<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      this.problems.push(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  require(ok: boolean, problem: string): void {
    if (!ok) this.problems.push(problem);
  }

  /** Throws the ConfigError listing every problem, if there is one. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Settings every service shares; each service spreads these into its own schema. */
export function commonSchema(service: string, defaultMetricsPort: number) {
  const prefix = `VIGIL_${service.toUpperCase().replace(/-/g, '_')}`;
  return {
    deviceId: {
      doc: 'Name of this device; the MQTT topics are vigil/<deviceId>/... (1-64 of A-Z a-z 0-9 _ . -). Default: balena\'s device name or short UUID, else the host name outside a container, else vigil-pi.',
      format: 'device-id',
      default: DEFAULT_DEVICE_ID,
      env: 'VIGIL_DEVICE_ID',
    },
    logLevel: {
      doc: 'Log level: fatal, error, warn, info, debug or trace.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      env: 'VIGIL_LOG_LEVEL',
    },
    metricsPort: {
      doc: 'Port of the HTTP server that answers /metrics and /healthz.',
      format: 'port',
      default: defaultMetricsPort,
      env: `${prefix}_METRICS_PORT`,
    },
    metricsHost: {
      doc: 'Address the /metrics and /healthz server listens on: loopback unless a deployment needs more (compose: 0.0.0.0 on the stack\'s private network, for Prometheus).',
      format: String,
      default: '127.0.0.1',
      env: 'VIGIL_METRICS_HOST',
    },
    assetIdleS: {
      doc: 'An asset silent this long may give its slot (memory, metric series) to a new one when a stage\'s slots are full; its state stays in Redis and comes back with it.',
      format: 'positive-int',
      default: 600,
      env: 'VIGIL_ASSET_IDLE_S',
    },
    assetStateTtlDays: {
      doc: 'Per-asset keys in Redis (seq, scaler, threshold) expire after this many days without the asset: names seen once do not stay for ever.',
      format: 'positive-int',
      default: 30,
      env: 'VIGIL_ASSET_STATE_TTL_DAYS',
    },
    pipeSecretKey: {
      doc: 'Pipeline key (40 characters of Z85; npm run keygen makes one) that every stage of the device holds: a stage accepts ZeroMQ connections only from holders. Set it, or pipeKeyFile, wherever a stage binds more than loopback.',
      format: 'curve-key-or-empty',
      default: '',
      env: 'VIGIL_PIPE_SECRET_KEY',
      sensitive: true,
    },
    pipeKeyFile: {
      doc: 'File holding the pipeline key, created (mode 0600) by the first stage that starts if it does not exist: a volume shared by the five stages. VIGIL_PIPE_SECRET_KEY wins if both are set.',
      format: String,
      default: '',
      env: 'VIGIL_PIPE_KEY_FILE',
    },
    sysfsRoot: {
      doc: 'Root of sysfs, for CPU temperature and throttling (tests point it at a folder they write).',
      format: String,
      default: '/sys',
      env: 'VIGIL_SYSFS_ROOT',
    },
    shutdownTimeoutMs: {
      doc: 'How long a graceful stop may take before the process exits anyway.',
      format: 'positive-int',
      default: 10_000,
      env: 'VIGIL_SHUTDOWN_TIMEOUT_MS',
    },
  };
}

export function envPrefix(service: string): string {
  return `VIGIL_${service.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The feature spec: one definition, read from the preprocessor's variables by both stages that
 * need it (the preprocessor makes the features, inference's learn mode records them in the
 * bundle), so the two cannot disagree when the stack shares one environment.
 */
export function featureSpecSchema() {
  const env = envPrefix('preprocessor');
  return {
    channels: { doc: 'Sensor channels every reading must have, in feature order.', format: 'string-list', default: [...DEFAULT_FEATURE_SPEC.channels], env: `${env}_CHANNELS` },
    features: {
      doc: 'Window features per channel: last, mean, std, slope, min, max, or series (the raw window, for the conv autoencoder).',
      format: 'window-features',
      default: [...DEFAULT_FEATURE_SPEC.features] as WindowFeature[],
      env: `${env}_FEATURES`,
    },
    windowSize: { doc: 'Readings in the feature window.', format: 'positive-int', default: DEFAULT_FEATURE_SPEC.windowSize, env: `${env}_WINDOW` },
    scalerWarmup: {
      doc: 'Readings the scaler learns mean and variance from before it is frozen (a fault later must not be learned as normal).',
      format: 'positive-int',
      default: DEFAULT_FEATURE_SPEC.scalerWarmup,
      env: `${env}_SCALER_WARMUP`,
    },
  };
}

export const redisUrlSetting = {
  doc: 'Redis URL; Redis holds the rolling statistics.',
  format: 'redis-url',
  default: 'redis://127.0.0.1:6379',
  env: 'VIGIL_REDIS_URL',
  sensitive: true,
} as const;
