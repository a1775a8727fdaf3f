/**
 * Home Assistant MQTT discovery, as Home Assistant would see it: a subscriber on a real mosquitto
 * reads the retained discovery configs, checks them against the schema Home Assistant documents
 * for MQTT binary sensors and sensors, then follows each entity's state the way Home Assistant
 * would (its state topic, its value template, its availability topic).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync } from 'mqtt';
import { Push } from 'zeromq';
import type { AssetState } from '@vigil/shared/runtime';
import { MqttListener, type ReceivedMessage } from '../../../test/harness/mqtt-listener.js';
import { startHealthy } from '../../../test/harness/pipeline.js';
import { decisionFrame, startPublisherUnderTest } from '../../../test/harness/publisher-under-test.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import type { ManagedProcess } from '../../../test/harness/processes.js';
import { startMosquitto, type TestServer } from '../../../test/harness/servers.js';

const DEVICE = 'line-3';
const ASSET = 'pump.1';
const T0 = Date.UTC(2026, 5, 1);

/**
 * From Home Assistant's MQTT docs (binary_sensor, sensor, and the shared availability, device and
 * origin options): the keys an entity may carry, and the values some of them may take.
 */
const COMMON_KEYS = [
  'name', 'unique_id', 'object_id', 'state_topic', 'value_template', 'availability_topic', 'payload_available', 'payload_not_available',
  'availability', 'availability_mode', 'device', 'origin', 'device_class', 'entity_category', 'icon', 'json_attributes_topic',
  'json_attributes_template', 'qos', 'enabled_by_default', 'expire_after', 'force_update', 'encoding',
];
const KEYS = {
  binary_sensor: [...COMMON_KEYS, 'payload_on', 'payload_off', 'off_delay'],
  sensor: [...COMMON_KEYS, 'state_class', 'unit_of_measurement', 'suggested_display_precision', 'options', 'last_reset_value_template'],
};
const DEVICE_CLASSES = {
  binary_sensor: ['problem', 'safety', 'running', 'power', 'heat', 'vibration', 'moisture', 'connectivity'],
  sensor: ['enum', 'temperature', 'power', 'current', 'pressure', 'voltage'],
};
const DEVICE_KEYS = ['identifiers', 'connections', 'name', 'manufacturer', 'model', 'sw_version', 'hw_version', 'serial_number', 'suggested_area', 'via_device', 'configuration_url'];

interface EntityConfig {
  unique_id: string;
  state_topic: string;
  value_template: string;
  availability_topic: string;
  payload_available: string;
  payload_not_available: string;
  device_class?: string;
  state_class?: string;
  options?: string[];
  device: { identifiers: string[]; name: string };
  [key: string]: unknown;
}

function checkSchema(component: 'binary_sensor' | 'sensor', config: EntityConfig): void {
  for (const key of Object.keys(config)) assert.ok(KEYS[component].includes(key), `${component} has no option ${key}`);
  for (const key of Object.keys(config.device)) assert.ok(DEVICE_KEYS.includes(key), `device has no option ${key}`);
  assert.ok(config.device.identifiers.length > 0 && config.device.name.length > 0);
  assert.equal(typeof config.unique_id, 'string');
  assert.equal(typeof config.state_topic, 'string');
  if (config.device_class !== undefined) assert.ok(DEVICE_CLASSES[component].includes(config.device_class), `${component} device class ${config.device_class}`);
  if (config.state_class !== undefined) assert.ok(['measurement', 'total', 'total_increasing'].includes(config.state_class));
  if (config.device_class === 'enum') assert.ok(Array.isArray(config.options) && config.options.length > 0, 'an enum sensor lists its options');
}

/** The two template shapes Home Assistant evaluates for these entities, evaluated the same way. */
function render(template: string, payload: string): string {
  const json = JSON.parse(payload) as Record<string, unknown>;
  const plain = /^\{\{ value_json\.(\w+) \}\}$/.exec(template);
  if (plain) return String(json[plain[1] as string]);
  const choice = /^\{\{ '(\w+)' if value_json\.(\w+) == '(\w+)' else '(\w+)' \}\}$/.exec(template);
  if (choice) return json[choice[2] as string] === choice[3] ? (choice[1] as string) : (choice[4] as string);
  throw new Error(`a template this test cannot evaluate: ${template}`);
}

describe('alert-publisher Home Assistant discovery (process, real mosquitto)', { timeout: 120_000 }, () => {
  let broker: TestServer;
  let listener: MqttListener;
  let publisher: ManagedProcess;
  let upstream: Push;
  let seq = 0;

  const decision = (asset: string, state: AssetState, changed: boolean, score: number) => {
    seq += 1;
    return decisionFrame({ seq, asset, state, changed, ts: T0 + seq * 100, score });
  };
  const configs = (): Array<ReceivedMessage & { component: 'binary_sensor' | 'sensor'; config: EntityConfig }> =>
    listener.messages
      .filter((message) => message.topic.startsWith('homeassistant/') && message.topic.endsWith('/config'))
      .map((message) => ({ ...message, component: message.topic.split('/')[1] as 'binary_sensor' | 'sensor', config: JSON.parse(message.payload) as EntityConfig }));
  const stateOf = (config: EntityConfig): string | undefined => {
    const last = listener.messages.filter((message) => message.topic === config.state_topic).at(-1);
    return last === undefined ? undefined : render(config.value_template, last.payload);
  };
  const available = (config: EntityConfig): boolean => listener.messages.filter((message) => message.topic === config.availability_topic).at(-1)?.payload === config.payload_available;

  before(async () => {
    broker = await startMosquitto();
    listener = await MqttListener.connect(broker.url, ['homeassistant/#', 'vigil/#']);
    ({ publisher, upstream } = await startPublisherUnderTest(broker.url, DEVICE, { VIGIL_ALERT_PUBLISHER_SCORE_INTERVAL_S: '1' }));
  });

  after(async () => {
    upstream.close();
    await publisher.stop();
    await listener.close();
    await broker.stop();
  });

  it('announces each asset with a problem sensor, a score and a state, retained, under one device', async () => {
    await upstream.send(decision(ASSET, 'normal', true, 0.2));
    await waitFor('three discovery configs', () => configs().length >= 3 || undefined, 10_000);
    const found = configs();
    assert.deepEqual(found.map((entry) => entry.component).sort(), ['binary_sensor', 'sensor', 'sensor']);
    for (const { topic, component, config } of found) {
      assert.match(topic, /^homeassistant\/(binary_sensor|sensor)\/[a-zA-Z0-9_-]+\/[a-zA-Z0-9_-]+\/config$/, 'node and object ids Home Assistant accepts');
      checkSchema(component, config);
      assert.deepEqual(config.device.identifiers, [`vigil_line-3`], 'one Home Assistant device per vigil device');
      assert.equal(config.availability_topic, `vigil/${DEVICE}/status`);
    }
    assert.equal(new Set(found.map((entry) => entry.config.unique_id)).size, 3, 'unique ids');
    assert.equal(found.find((entry) => entry.component === 'binary_sensor')?.config.device_class, 'problem');
    // Retained: a Home Assistant that starts later still finds them.
    const late = await MqttListener.connect(broker.url, ['homeassistant/#']);
    await waitFor('retained configs', () => late.messages.filter((message) => message.retain).length >= 3 || undefined, 5_000);
    await late.close();
  });

  it('follows the asset: problem on while anomalous, the score moving, unavailable when the device goes', async () => {
    const problem = configs().find((entry) => entry.component === 'binary_sensor')?.config as EntityConfig;
    const score = configs().find((entry) => entry.config.unique_id.endsWith('_score'))?.config as EntityConfig;
    const state = configs().find((entry) => entry.config.unique_id.endsWith('_state'))?.config as EntityConfig;
    await waitFor('available', () => available(problem) || undefined, 5_000);
    assert.equal(stateOf(problem), 'OFF');
    assert.equal(stateOf(state), 'normal');
    await upstream.send(decision(ASSET, 'anomalous', true, 7.5));
    await waitFor('problem on', () => stateOf(problem) === 'ON' || undefined, 10_000);
    assert.equal(stateOf(state), 'anomalous');
    assert.ok(state.options?.includes('anomalous'), 'a value the enum declares');
    // The score goes out at most once a second: send for two seconds and it moves.
    for (let i = 0; i < 20; i += 1) {
      await upstream.send(decision(ASSET, 'anomalous', false, 7.5 + i));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const scores = listener.messages.filter((message) => message.topic === score.state_topic).map((message) => Number(render(score.value_template, message.payload)));
    assert.ok(scores.length >= 2 && scores.length <= 4, `the score throttled to about one a second (${scores.length})`);
    assert.ok(scores.every(Number.isFinite) && (scores.at(-1) ?? 0) > 7.5, 'numbers, and the latest one');
    await upstream.send(decision(ASSET, 'normal', true, 0.3));
    await waitFor('problem off', () => stateOf(problem) === 'OFF' || undefined, 10_000);
    await publisher.stop();
    await waitFor('unavailable', () => !available(problem) || undefined, 10_000);
  });

  it("announces again when Home Assistant starts (its birth message), and not at all when switched off", async () => {
    const inputPort = await freePort();
    const metricsPort = await freePort();
    const base = {
      VIGIL_MQTT_URL: broker.url,
      VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${inputPort}`,
      VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(metricsPort),
      VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
    };
    publisher = await startHealthy('alert-publisher', { ...base, VIGIL_DEVICE_ID: DEVICE }, metricsPort);
    upstream.disconnect(upstream.lastEndpoint as string);
    upstream.connect(base.VIGIL_ALERT_PUBLISHER_INPUT);
    await upstream.send(decision('pump-9', 'normal', true, 0.1));
    const ofPump9 = () => configs().filter((entry) => entry.topic.includes('/pump-9_'));
    await waitFor('pump-9 announced', () => ofPump9().length === 3 || undefined, 10_000);
    const homeAssistant = await connectAsync(broker.url);
    await homeAssistant.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor('announced again', () => ofPump9().length === 6 || undefined, 10_000);
    await homeAssistant.endAsync();
    await publisher.stop();

    publisher = await startHealthy('alert-publisher', { ...base, VIGIL_DEVICE_ID: 'quiet-1', VIGIL_HA_DISCOVERY: 'false' }, metricsPort);
    await upstream.send(decision('pump-10', 'normal', true, 0.1));
    await waitFor('its state published', () => listener.on('quiet-1/pump-10/state').length > 0 || undefined, 10_000);
    assert.equal(configs().filter((entry) => entry.topic.includes('quiet-1')).length, 0, 'no discovery when switched off');
  });
});
