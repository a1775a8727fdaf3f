/**
 * Home Assistant MQTT discovery: per asset a `problem` binary sensor (on while the asset is
 * anomalous), its anomaly score and its state as sensors, all grouped under one Home Assistant
 * device per vigil device and unavailable while the device's status topic says `offline`. The
 * configs are retained, so Home Assistant finds them whenever it starts; they are sent again when
 * Home Assistant announces itself on `<prefix>/status` (its birth message).
 * https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
 */
import { createHash } from 'node:crypto';
import type { Topics } from './mqtt-link.js';

export interface DiscoverySettings {
  /** Home Assistant's discovery prefix (its default: homeassistant). */
  prefix: string;
  device: string;
  version: string;
}

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

/**
 * Discovery topics allow only [a-zA-Z0-9_-] in the node and object ids. A name that needed
 * changing gets a short hash of the original, so `pump.1` and `pump_1` stay two entities.
 */
export function discoveryId(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_-]/g, '_');
  return safe === name ? name : `${safe}_${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

/** The topic Home Assistant publishes `online` on when it starts. */
export function birthTopic(settings: DiscoverySettings): string {
  return `${settings.prefix}/status`;
}

export function discoveryMessages(settings: DiscoverySettings, topics: Topics, asset: string): DiscoveryMessage[] {
  const node = `vigil_${discoveryId(settings.device)}`;
  const object = discoveryId(asset);
  const common = {
    availability_topic: topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [node],
      name: `vigil ${settings.device}`,
      manufacturer: 'vigil',
      model: 'edge anomaly detection',
      sw_version: settings.version,
    },
    origin: { name: 'vigil', sw_version: settings.version },
  };
  const entity = (component: 'binary_sensor' | 'sensor', key: string, config: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${settings.prefix}/${component}/${node}/${object}_${key}/config`,
    payload: JSON.stringify({ unique_id: `${node}_${object}_${key}`, ...config, ...common }),
  });
  return [
    entity('binary_sensor', 'problem', {
      name: `${asset} problem`,
      device_class: 'problem',
      state_topic: topics.state(asset),
      value_template: "{{ 'ON' if value_json.state == 'anomalous' else 'OFF' }}",
      json_attributes_topic: topics.state(asset),
    }),
    entity('sensor', 'score', {
      name: `${asset} anomaly score`,
      state_topic: topics.score(asset),
      value_template: '{{ value_json.score }}',
      state_class: 'measurement',
      suggested_display_precision: 2,
    }),
    entity('sensor', 'state', {
      name: `${asset} state`,
      device_class: 'enum',
      options: ['warmup', 'normal', 'anomalous', 'changed'],
      state_topic: topics.state(asset),
      value_template: '{{ value_json.state }}',
    }),
  ];
}
