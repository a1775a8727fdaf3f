import type { IClientOptions, MqttClient } from 'mqtt';
import { normaliseSensorTime, reconnectWithBackoff, type SensorTimeWindow } from '@vigil/shared/runtime';
import type { EmitSample, RejectInput, SampleSource } from './sample-source.js';

export interface MqttSourceOptions {
  url: string;
  username: string;
  password: string;
  topics: string[];
  /** Asset for payloads that do not name one. */
  asset: string;
  clientId: string;
  /** Where a payload's ts must fall; default 1990 to a day ahead. */
  timeWindow?: SensorTimeWindow;
}

/**
 * Subscribes to sensor topics that already exist on a broker. A payload is a JSON object, either
 * `{"asset": "...", "ts": 1700000000000, "channels": {"pressure": 1.2, ...}}` or flat
 * `{"pressure": 1.2, "flow": 31.9}`; anything else is counted and dropped.
 *
 * On a topic `sensors/<user>/<asset>` (how the stack's broker lets its sensor user write) the
 * asset is the topic's: the broker has checked who may write there, and a payload naming another
 * asset is refused, so a writer cannot feed an asset outside its topic.
 */
export class MqttSource implements SampleSource {
  readonly name = 'mqtt';
  private client: MqttClient | undefined;

  constructor(private readonly options: MqttSourceOptions) {}

  async start(emit: EmitSample, reject: RejectInput): Promise<void> {
    // Loaded here, not at the top: a reader on another source does not pay for the MQTT client.
    const { connect } = await import('mqtt');
    const clientOptions: IClientOptions = {
      clientId: this.options.clientId,
      // A persistent session: QoS 1 readings sent while the reader is away (its restart, a
      // broker restart with persistence) are queued by the broker and delivered when it is back.
      clean: false,
      // Reconnection is reconnectWithBackoff's: doubling waits with jitter, not a fixed period.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // Without it mqtt-packet keeps a Buffer per packet id (65,536 of them, 6 MB of heap).
      writeCache: false,
      ...(this.options.username ? { username: this.options.username, password: this.options.password } : {}),
    };
    const client = connect(this.options.url, clientOptions);
    reconnectWithBackoff(client);
    this.client = client;
    client.on('connect', () => {
      client.subscribe(this.options.topics, { qos: 1 });
    });
    // An error event with no listener would end the process; here it is logged by reconnects.
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => {
      const sample = parseSensorPayload(payload, this.options.asset, Date.now(), assetOfTopic(topic), this.options.timeWindow);
      if (typeof sample === 'string') reject('mqtt_payload', sample);
      // Not awaited: a broker's messages cannot be held back, and emit counts its own failures.
      else void emit(sample);
    });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }
}

/** The asset a topic `sensors/<user>/<asset>` names, or undefined for any other topic. */
export function assetOfTopic(topic: string): string | undefined {
  return /^sensors\/[^/]+\/([^/]+)$/.exec(topic)?.[1];
}

/** Parses one MQTT sensor payload, or returns why it was refused. */
export function parseSensorPayload(
  payload: Buffer,
  defaultAsset: string,
  now = Date.now(),
  topicAsset?: string,
  timeWindow?: SensorTimeWindow,
): { asset: string; ts: number; channels: Record<string, number> } | string {
  if (payload.length > 16 * 1024) return 'payload larger than 16 KiB';
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'payload is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'payload is not a JSON object';
  const body = parsed as Record<string, unknown>;
  const rawChannels = 'channels' in body ? body.channels : body;
  if (typeof rawChannels !== 'object' || rawChannels === null || Array.isArray(rawChannels)) {
    return 'channels is not an object';
  }
  const channels: Record<string, number> = {};
  for (const [name, value] of Object.entries(rawChannels)) {
    if ('channels' in body || (name !== 'asset' && name !== 'ts')) {
      if (typeof value !== 'number' && value !== null && value !== 'NaN') return `channel ${name.slice(0, 64)} is not a number`;
      // Defined, not assigned: a channel called __proto__ stays a channel, never a prototype.
      Object.defineProperty(channels, name, { value: typeof value === 'number' ? value : Number.NaN, enumerable: true, writable: true, configurable: true });
    }
  }
  if (Object.keys(channels).length === 0) return 'payload has no channels';
  const named = typeof body.asset === 'string' && body.asset !== '' ? body.asset : undefined;
  if (topicAsset !== undefined && named !== undefined && named !== topicAsset) return `payload names asset ${named.slice(0, 64)} on the topic of ${topicAsset}`;
  const asset = topicAsset ?? named ?? defaultAsset;
  // No time in the payload: the reading is stamped on arrival. A time that is there must make sense.
  if (body.ts === undefined) return { asset, ts: now, channels };
  const time = normaliseSensorTime(body.ts, now, timeWindow);
  if ('refused' in time) return time.detail;
  return { asset, ts: time.ts, channels };
}
