import { commonSchema, defaultInputEndpoint, envPrefix, loadConfig, STAGE_QUEUE_HWM, type StageName, TOPOLOGY } from '@vigil/shared/runtime';

export const SERVICE = 'alert-publisher' satisfies StageName;
const ENV = envPrefix(SERVICE);

export const schema = {
  ...commonSchema(SERVICE, TOPOLOGY[SERVICE].opsPort),
  input: {
    endpoint: { doc: 'ZeroMQ endpoint this stage binds for decisions: loopback unless the stages run on separate hosts or containers, which needs the pipeline key (VIGIL_PIPE_KEY_FILE or VIGIL_PIPE_SECRET_KEY).', format: 'zmq-endpoint', default: defaultInputEndpoint(SERVICE), env: `${ENV}_INPUT` },
    highWaterMark: { doc: 'Decisions buffered at the input.', format: 'positive-int', default: STAGE_QUEUE_HWM, env: `${ENV}_INPUT_HWM` },
  },
  mqtt: {
    url: { doc: 'MQTT broker URL (mqtt:// or mqtts://).', format: 'mqtt-url', default: 'mqtt://127.0.0.1:1883', env: 'VIGIL_MQTT_URL', sensitive: true },
    username: { doc: 'Broker user name.', format: String, default: '', env: 'VIGIL_MQTT_USERNAME' },
    password: { doc: 'Broker password.', format: String, default: '', env: 'VIGIL_MQTT_PASSWORD', sensitive: true },
    caFile: { doc: 'CA certificate file for mqtts:// (empty: the system CAs).', format: String, default: '', env: 'VIGIL_MQTT_CA_FILE' },
    certFile: { doc: 'Client certificate file for mutual TLS (optional).', format: String, default: '', env: 'VIGIL_MQTT_CERT_FILE' },
    keyFile: { doc: 'Client key file for mutual TLS (optional).', format: String, default: '', env: 'VIGIL_MQTT_KEY_FILE' },
    topicPrefix: { doc: 'Topics are <prefix>/<device>/...', format: 'non-empty-string', default: 'vigil', env: 'VIGIL_MQTT_TOPIC_PREFIX' },
  },
  outboxPath: {
    doc: 'Append-only file holding alerts until the broker acknowledges them (put it on a volume).',
    format: 'non-empty-string',
    default: 'data/alert-outbox.jsonl',
    env: `${ENV}_OUTBOX_PATH`,
  },
  cooldownS: {
    doc: 'After an alert for an asset, further alerts for it within this many seconds are suppressed (counted).',
    format: 'nat',
    default: 300,
    env: `${ENV}_COOLDOWN_S`,
  },
  criticalRatio: {
    doc: 'An alert is critical when the score is this many times the high mark, else a warning.',
    format: 'positive-number',
    default: 3,
    env: `${ENV}_CRITICAL_RATIO`,
  },
  scoreIntervalS: {
    doc: 'Each asset\'s score goes out on <prefix>/<device>/<asset>/score (QoS 0) at most this often, for dashboards and Home Assistant; 0: never.',
    format: 'nat',
    default: 10,
    env: `${ENV}_SCORE_INTERVAL_S`,
  },
  homeAssistant: {
    discovery: { doc: 'Announce each asset to Home Assistant by MQTT discovery (retained configs under the prefix).', format: Boolean, default: true, env: 'VIGIL_HA_DISCOVERY' },
    prefix: { doc: 'Home Assistant\'s discovery prefix.', format: 'non-empty-string', default: 'homeassistant', env: 'VIGIL_HA_DISCOVERY_PREFIX' },
  },
  webhook: {
    url: { doc: 'POST every alert and episode event here (http:// or https://); empty: no web hook.', format: 'http-url-or-empty', default: '', env: 'VIGIL_WEBHOOK_URL', sensitive: true },
    secret: { doc: 'HMAC-SHA256 key: requests carry X-Vigil-Timestamp and X-Vigil-Signature; empty: unsigned.', format: String, default: '', env: 'VIGIL_WEBHOOK_SECRET', sensitive: true },
    timeoutS: { doc: 'A request not answered in this many seconds is a failed attempt.', format: 'positive-int', default: 10, env: 'VIGIL_WEBHOOK_TIMEOUT_S' },
    maxBackoffS: { doc: 'The longest wait between attempts while the hook keeps failing (waits double from 1 s).', format: 'positive-int', default: 300, env: 'VIGIL_WEBHOOK_MAX_BACKOFF_S' },
  },
  sparkplug: {
    enabled: { doc: 'Publish Sparkplug B v3.0 (NBIRTH/DBIRTH/DDATA per asset) for a SCADA host.', format: Boolean, default: false, env: 'VIGIL_SPARKPLUG' },
    url: { doc: 'Broker for Sparkplug; empty: the MQTT broker above, with its credentials and TLS files.', format: 'mqtt-url-or-empty', default: '', env: 'VIGIL_SPARKPLUG_URL', sensitive: true },
    username: { doc: 'Broker user name for Sparkplug (with VIGIL_SPARKPLUG_URL).', format: String, default: '', env: 'VIGIL_SPARKPLUG_USERNAME' },
    password: { doc: 'Broker password for Sparkplug (with VIGIL_SPARKPLUG_URL).', format: String, default: '', env: 'VIGIL_SPARKPLUG_PASSWORD', sensitive: true },
    groupId: { doc: 'Sparkplug group id: topics are spBv1.0/<group>/<type>/<device id>[/<asset>].', format: 'device-id', default: 'vigil', env: 'VIGIL_SPARKPLUG_GROUP_ID' },
    primaryHostId: {
      doc: "The SCADA's primary host id: births wait until spBv1.0/STATE/<id> says it is online, and it going offline ends the session (NDEATH); empty: publish whenever connected.",
      format: 'device-id-or-empty',
      default: '',
      env: 'VIGIL_SPARKPLUG_PRIMARY_HOST_ID',
    },
  },
  retryMs: { doc: 'How often unacknowledged alerts are offered to the broker again.', format: 'positive-int', default: 5000, env: `${ENV}_RETRY_MS` },
  maxInFlight: {
    doc: 'Alerts published and not yet acknowledged at any one time. A crash repeats at most these many (duplicates, dropped by id), however many were queued.',
    format: 'positive-int',
    default: 10,
    env: `${ENV}_MAX_IN_FLIGHT`,
  },
};

export type PublisherConfig = ReturnType<typeof loadPublisherConfig>;

export function loadPublisherConfig(overrides: Record<string, unknown> = {}) {
  return loadConfig(schema, overrides);
}
