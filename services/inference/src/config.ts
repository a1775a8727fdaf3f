import {
  assetSpecsOf,
  assetsSchema,
  ConfigChecks,
  commonSchema,
  featureSpecSchema,
  defaultInputEndpoint,
  STAGE_QUEUE_HWM,
  defaultOutputEndpoint,
  envPrefix,
  loadConfig,
  type StageName,
  TOPOLOGY,
} from '@vigil/shared/runtime';
import { parsePublicKey, type ModelChoice, type ModelPrecision } from '@vigil/shared/model';

export const SERVICE = 'inference' satisfies StageName;
const ENV = envPrefix(SERVICE);

export const schema = {
  ...commonSchema(SERVICE, TOPOLOGY[SERVICE].opsPort),
  input: {
    endpoint: { doc: 'ZeroMQ endpoint this stage binds for feature vectors: loopback unless the stages run on separate hosts or containers, which needs the pipeline key (VIGIL_PIPE_KEY_FILE or VIGIL_PIPE_SECRET_KEY).', format: 'zmq-endpoint', default: defaultInputEndpoint(SERVICE), env: `${ENV}_INPUT` },
    highWaterMark: { doc: 'Feature messages buffered at the input.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_INPUT_HWM` },
  },
  output: {
    endpoint: { doc: 'ZeroMQ endpoint of the adaptive-threshold input.', format: 'zmq-endpoint', default: defaultOutputEndpoint(SERVICE), env: `${ENV}_OUTPUT` },
    highWaterMark: { doc: 'Scores queued for the adaptive-threshold before this stage waits.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_OUTPUT_HWM` },
  },
  modelPath: {
    doc: 'Folder of the model bundle (bundle.json, model.json, weights.bin), loaded once per bundle; a new bundle written there is swapped in without a restart.',
    format: 'non-empty-string',
    default: 'models/current',
    env: `${ENV}_MODEL_PATH`,
  },
  modelWatchMs: { doc: 'How often the model folder is checked for a new bundle.', format: 'positive-int', default: 5000, env: `${ENV}_MODEL_WATCH_MS` },
  modelPublicKey: {
    doc: 'Ed25519 public key (base64 DER or PEM, from npm run sign -- --new-key): a bundle delivered into the model folder goes into service only if it is signed by its private key (bundles learned on the device need none); empty: no check.',
    format: String,
    default: '',
    env: 'VIGIL_MODEL_PUBLIC_KEY',
  },
  modelFleetTopic: {
    doc: 'MQTT topic a fleet delivers signed bundle archives on (retained; npm run sign -- --archive), for example vigil/fleet/pumps/model; empty: none. Needs VIGIL_MODEL_PUBLIC_KEY.',
    format: String,
    default: '',
    env: 'VIGIL_MODEL_FLEET_TOPIC',
  },
  modelUrl: {
    doc: 'URL of a signed bundle archive, checked every modelUrlCheckS (If-None-Match); empty: none. Needs VIGIL_MODEL_PUBLIC_KEY.',
    format: 'http-url-or-empty',
    default: '',
    env: 'VIGIL_MODEL_URL',
    sensitive: true,
  },
  modelUrlCheckS: { doc: 'How often the model URL is checked.', format: 'positive-int', default: 3600, env: 'VIGIL_MODEL_URL_CHECK_S' },
  shadowS: {
    doc: 'A new model (learned or delivered) scores beside the one in service for this long and is promoted only if it raised no more alarms; 0: put into service at once. Calibrated models only (the default detector).',
    format: 'nat',
    default: 600,
    env: `${ENV}_SHADOW_S`,
  },
  memory: {
    redisUrl: {
      doc: "Redis URL where the default detector keeps each asset's memory (its course, followed baseline, a settled new level) so that a restart picks every asset up where it was; empty: not kept, a restarted service starts every asset afresh.",
      format: 'redis-url-or-empty',
      default: '',
      env: 'VIGIL_REDIS_URL',
      sensitive: true,
    },
    flushMs: { doc: "How often changed detector memory is written to Redis (at once when an asset reaches or leaves a new level).", format: 'positive-int', default: 10_000, env: `${ENV}_MEMORY_FLUSH_MS` },
  },
  modelsKept: { doc: 'Bundles kept in the registry beside the model folder (for rollback and pin); the active and the pinned one are always kept.', format: 'positive-int', default: 5, env: `${ENV}_MODELS_KEPT` },
  mqtt: {
    url: { doc: 'Broker for the model topic and the model commands (relearn, rollback, pin, unpin); empty: neither.', format: 'mqtt-url-or-empty', default: '', env: 'VIGIL_MQTT_URL', sensitive: true },
    username: { doc: 'Broker user name.', format: String, default: '', env: 'VIGIL_MQTT_USERNAME' },
    password: { doc: 'Broker password.', format: String, default: '', env: 'VIGIL_MQTT_PASSWORD', sensitive: true },
    caFile: { doc: 'CA certificate file for mqtts://.', format: String, default: '', env: 'VIGIL_MQTT_CA_FILE' },
    certFile: { doc: 'Client certificate file for mutual TLS.', format: String, default: '', env: 'VIGIL_MQTT_CERT_FILE' },
    keyFile: { doc: 'Client key file for mutual TLS.', format: String, default: '', env: 'VIGIL_MQTT_KEY_FILE' },
    topicPrefix: { doc: 'Topics are <prefix>/<device>/...', format: 'non-empty-string', default: 'vigil', env: 'VIGIL_MQTT_TOPIC_PREFIX' },
  },
  learn: {
    enabled: {
      doc: 'With no bundle at modelPath, learn one from the running machine (assumed normal while it learns), then detect.',
      format: Boolean,
      default: true,
      env: `${ENV}_LEARN`,
    },
    samples: { doc: 'Feature vectors to learn from (3,000 = 5 minutes at 10 Hz).', format: 'positive-int', default: 3000, env: `${ENV}_LEARN_SAMPLES` },
    epochs: { doc: 'Training epochs in learn mode.', format: 'positive-int', default: 30, env: `${ENV}_LEARN_EPOCHS` },
    precision: {
      doc: 'How the learned model ships: int8 (weights int8 per output channel, activations calibrated on the learned samples; ~4x smaller) or fp32 (standard TF.js layers format).',
      format: ['int8', 'fp32'],
      default: 'int8' as ModelPrecision,
      env: `${ENV}_LEARN_PRECISION`,
    },
    model: {
      doc: 'What learn mode builds: auto (the default detector, calibrated, chosen from what the learning period shows; the conv autoencoder when the features are series), autoencoder (dense over window summaries, or conv on series) or isolation-forest (window summaries). The precision setting applies to autoencoders only.',
      format: ['auto', 'autoencoder', 'isolation-forest'],
      default: 'auto' as ModelChoice,
      env: `${ENV}_LEARN_MODEL`,
    },
  },
  // The preprocessor's feature spec, from its own variables: learn mode records it in the bundle.
  ...featureSpecSchema(),
  // The same assets file as the preprocessor's: each asset its own model, in its own folder.
  ...assetsSchema,
};

export type InferenceConfig = ReturnType<typeof loadInferenceConfig>;

export function loadInferenceConfig(overrides: Record<string, unknown> = {}) {
  const config = loadConfig(schema, overrides);
  const checks = new ConfigChecks();
  const modelPublicKey = config.modelPublicKey === '' ? undefined : checks.parse(() => {
    try {
      return parsePublicKey(config.modelPublicKey);
    } catch (error) {
      throw new Error(`VIGIL_MODEL_PUBLIC_KEY: not an Ed25519 public key (${error instanceof Error ? error.message : String(error)}); make one with npm run sign -- --new-key <file>`);
    }
  });
  checks.require(
    (config.modelFleetTopic === '' && config.modelUrl === '') || config.modelPublicKey !== '',
    'delivering models to a fleet (VIGIL_MODEL_FLEET_TOPIC or VIGIL_MODEL_URL) needs VIGIL_MODEL_PUBLIC_KEY: a bundle from the network is taken only if signed',
  );
  checks.require(config.modelFleetTopic === '' || config.mqtt.url !== '', 'VIGIL_MODEL_FLEET_TOPIC needs the broker: set VIGIL_MQTT_URL');
  checks.require(!/[+#]/.test(config.modelFleetTopic), 'VIGIL_MODEL_FLEET_TOPIC must be one topic, without the wildcards + and #');
  const assetSpecs = checks.parse(() => assetSpecsOf(config)) ?? new Map();
  // A fleet bundle is one model for every asset; with an assets file each asset learns its own.
  checks.require(
    assetSpecs.size === 0 || (config.modelFleetTopic === '' && config.modelUrl === ''),
    'fleet delivery (VIGIL_MODEL_FLEET_TOPIC, VIGIL_MODEL_URL) installs one model for every asset and is not taken with an assets file: unset one of them (or drop a signed bundle into an asset\'s own model folder)',
  );
  checks.done();
  return { ...config, modelPublicKey, assetSpecs };
}
