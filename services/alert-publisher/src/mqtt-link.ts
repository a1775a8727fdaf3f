import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { EVERY_ASSET, reconnectWithBackoff } from '@vigil/shared/runtime';
import type { PublisherConfig } from './config.js';

export interface Topics {
  status: string;
  alert(asset: string): string;
  episode(asset: string): string;
  state(asset: string): string;
  /** The asset's latest score, now and then (QoS 0, not retained). */
  score(asset: string): string;
  /** Every asset's command topic, to subscribe to. */
  commands: string;
  /** The device's own command topic (what applies to every asset). */
  deviceCommand: string;
  /** Where a command's answer goes: the asset's, or with EVERY_ASSET the device's. */
  commandResult(asset: string): string;
  /** The asset a command topic names, or undefined for another topic. */
  assetOfCommand(topic: string): string | undefined;
}

export function topicsFor(prefix: string, device: string): Topics {
  return {
    status: `${prefix}/${device}/status`,
    alert: (asset) => `${prefix}/${device}/${asset}/alert`,
    episode: (asset) => `${prefix}/${device}/${asset}/episode`,
    commands: `${prefix}/${device}/+/command`,
    deviceCommand: `${prefix}/${device}/command`,
    commandResult: (asset) => (asset === EVERY_ASSET ? `${prefix}/${device}/command/result` : `${prefix}/${device}/${asset}/command/result`),
    assetOfCommand: (topic) => {
      const head = `${prefix}/${device}/`;
      if (!topic.startsWith(head) || !topic.endsWith('/command')) return undefined;
      const asset = topic.slice(head.length, -'/command'.length);
      return asset.includes('/') ? undefined : asset;
    },
    state: (asset) => `${prefix}/${device}/${asset}/state`,
    score: (asset) => `${prefix}/${device}/${asset}/score`,
  };
}

/**
 * Connects to the broker with a retained `offline` last will on the status topic, so subscribers
 * learn the device is gone even when it dies without a word; TLS and credentials when configured.
 */
export function connectBroker(config: PublisherConfig, topics: Topics): MqttClient {
  const { mqtt } = config;
  const options: IClientOptions = {
    clientId: `vigil-${config.deviceId}-alerts`,
    // A persistent session: QoS 1 messages in flight survive a reconnect on the broker's side.
    clean: false,
    // Reconnection is reconnectWithBackoff's: doubling waits with jitter, not MQTT.js's fixed period.
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    // mqtt-packet otherwise builds a 2-byte Buffer for each of the 65,536 packet ids on the first
    // write and keeps them for the life of the process: 6 MB of a 15 MB heap (a heap snapshot of
    // the publisher under load), held to save one 2-byte allocation per publish.
    writeCache: false,
    will: { topic: topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
    ...credentialsAndTls(mqtt),
  };
  const client = connect(mqtt.url, options);
  reconnectWithBackoff(client);
  return client;
}

/** User name, password and TLS files of the broker settings, as connection options. */
export function credentialsAndTls(mqtt: PublisherConfig['mqtt']): Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key'> {
  return {
    ...(mqtt.username ? { username: mqtt.username, password: mqtt.password } : {}),
    ...(mqtt.caFile ? { ca: readFileSync(mqtt.caFile) } : {}),
    ...(mqtt.certFile ? { cert: readFileSync(mqtt.certFile) } : {}),
    ...(mqtt.keyFile ? { key: readFileSync(mqtt.keyFile) } : {}),
  };
}
