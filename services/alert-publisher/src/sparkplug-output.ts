/**
 * Sparkplug B v3.0 for SCADA (Ignition's MQTT Engine, any Sparkplug host): the vigil device is an
 * edge node, each asset a Sparkplug device.
 *   spBv1.0/<group>/NBIRTH/<device>            at every connect: bdSeq, Node Control/Rebirth
 *   spBv1.0/<group>/NDEATH/<device>            the connection's will, with the same bdSeq
 *   spBv1.0/<group>/DBIRTH/<device>/<asset>    every metric of the asset with its current value
 *   spBv1.0/<group>/DDATA/<device>/<asset>     state and alarm on change; score, thresholds and
 *                                              contributors at most once an interval; episode events
 *   spBv1.0/<group>/NCMD/<device>              a host's Rebirth request: NBIRTH and DBIRTHs again
 *   spBv1.0/STATE/<primary host>               with a primary host configured: births only while it
 *                                              says it is online; when it goes offline, NDEATH and a
 *                                              new session that waits for it
 * Episode events (raised, cleared, acknowledged) come from the durable outbox: one raised while
 * the broker was away goes out when it is back, flagged historical with its own timestamp.
 *
 * The spec's choices, kept: its own MQTT connection (one connection has one will, and the NDEATH
 * must be it), a clean session, QoS 0 for births and data (a host that missed something asks for
 * a rebirth), bdSeq counted over connects and kept on disk across restarts, seq 0-255 over every
 * message after the NBIRTH.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { reconnectWithBackoff, type DecisionMessage, type Logger } from '@vigil/shared/runtime';
import type { Alert, Outbox } from './outbox.js';

interface Codec {
  encodePayload(payload: UPayload): Uint8Array;
  decodePayload(bytes: Uint8Array): UPayload;
}

/** Loaded only when Sparkplug is configured: protobufjs and the Sparkplug schema cost memory. */
function loadCodec(): Codec {
  const library = createRequire(import.meta.url)('sparkplug-payload') as { get(namespace: string): Codec | null };
  const codec = library.get('spBv1.0');
  if (!codec) throw new Error('sparkplug-payload has no spBv1.0 codec');
  return codec;
}

export interface SparkplugSettings {
  /** Broker connection: URL, credentials and TLS, as for the alert connection. */
  connection: Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key'> & { url: string };
  groupId: string;
  edgeNode: string;
  /** Score, thresholds and contributors go out at most this often per asset (state changes at once). */
  dataIntervalMs: number;
  /** Where bdSeq is kept across restarts. */
  bdSeqPath: string;
  /** The primary host application's id (its STATE topic); empty: publish whenever connected. */
  primaryHostId: string;
}

export interface SparkplugEvents {
  connected(up: boolean): void;
  sent(kind: 'NBIRTH' | 'DBIRTH' | 'DDATA' | 'DDEATH'): void;
}

/** What the node last said of an asset, to birth it again on reconnect or rebirth. */
interface AssetView {
  state: string | null;
  score: number | null;
  high: number | null;
  low: number | null;
  contributions: Record<string, number>;
  /** The contributor metrics its DBIRTH declared this connection; undefined: not born. */
  born: Set<string> | undefined;
  lastDataAt: number;
}

const REBIRTH = 'Node Control/Rebirth';

export class SparkplugOutput {
  private readonly codec = loadCodec();
  private readonly client: MqttClient;
  private readonly assets = new Map<string, AssetView>();
  private bdSeq: number;
  private seq = 0;
  private connectedAt = 0;
  private sending = false;
  /** NBIRTH sent in this session: nothing else may go out before it. */
  private born = false;

  constructor(
    private readonly settings: SparkplugSettings,
    private readonly outbox: Outbox,
    private readonly events: SparkplugEvents,
    private readonly logger: Logger,
  ) {
    this.bdSeq = (readBdSeq(settings.bdSeqPath) + 1) % 256;
    writeBdSeq(settings.bdSeqPath, this.bdSeq);
    const { url, ...credentials } = settings.connection;
    this.client = connect(url, {
      ...credentials,
      clientId: `vigil-${settings.edgeNode}-sparkplug`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      writeCache: false,
      will: this.will(),
    });
    reconnectWithBackoff(this.client);
    this.client.on('connect', () => this.onConnect());
    this.client.on('close', () => {
      this.events.connected(false);
      for (const view of this.assets.values()) view.born = undefined;
      // Every CONNECT carries the next bdSeq in its will; the NBIRTH after it repeats it.
      this.bdSeq = (this.bdSeq + 1) % 256;
      writeBdSeq(settings.bdSeqPath, this.bdSeq);
      this.client.options.will = this.will();
    });
    this.client.on('message', (topic, payload) => this.onCommand(topic, payload));
    this.client.on('error', (error) => this.logger.debug({ err: error.message }, 'sparkplug connection error'));
  }

  private topic(type: string, asset?: string): string {
    return `spBv1.0/${this.settings.groupId}/${type}/${this.settings.edgeNode}${asset === undefined ? '' : `/${asset}`}`;
  }

  private will(): NonNullable<IClientOptions['will']> {
    const payload = this.codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.bdSeq }] });
    return { topic: this.topic('NDEATH'), payload: Buffer.from(payload), qos: 1, retain: false };
  }

  private publish(type: 'NBIRTH' | 'DBIRTH' | 'DDATA' | 'DDEATH', asset: string | undefined, metrics: UMetric[], timestamp = Date.now()): Promise<boolean> {
    if (type === 'NBIRTH') this.born = true;
    if (!this.born) return Promise.resolve(false);
    const payload: UPayload = { timestamp, metrics, seq: type === 'NBIRTH' ? 0 : this.nextSeq() };
    if (type === 'NBIRTH') this.seq = 0;
    return new Promise((resolve) => {
      if (!this.client.connected) {
        resolve(false);
        return;
      }
      this.client.publish(this.topic(type, asset), Buffer.from(this.codec.encodePayload(payload)), { qos: 0 }, (error) => {
        if (!error) this.events.sent(type);
        resolve(!error);
      });
    });
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 256;
    return this.seq;
  }

  private stateTopic(): string {
    return `spBv1.0/STATE/${this.settings.primaryHostId}`;
  }

  private onConnect(): void {
    this.connectedAt = Date.now();
    this.born = false;
    this.events.connected(true);
    this.client.subscribe(this.topic('NCMD'), { qos: 0 });
    // With a primary host, the births wait for its retained STATE saying it is online.
    if (this.settings.primaryHostId !== '') {
      this.client.subscribe(this.stateTopic(), { qos: 1 });
      return;
    }
    this.birth();
    this.kick();
  }

  /** The primary host's STATE: v3.0's JSON {"online": …}, or v2.2's ONLINE/OFFLINE text. */
  private onHostState(payload: Buffer): void {
    const text = payload.toString('utf8').trim();
    let online: boolean | undefined;
    if (text === 'ONLINE' || text === 'OFFLINE') online = text === 'ONLINE';
    else {
      try {
        const parsed = JSON.parse(text) as { online?: unknown };
        if (typeof parsed.online === 'boolean') online = parsed.online;
      } catch {
        online = undefined;
      }
    }
    if (online === undefined) {
      this.logger.warn({ topic: this.stateTopic() }, 'sparkplug host STATE that is neither v3.0 JSON nor ONLINE/OFFLINE; ignored');
      return;
    }
    if (online && !this.born) {
      this.logger.info({ host: this.settings.primaryHostId }, 'sparkplug primary host online: births');
      this.birth();
      this.kick();
    } else if (!online && this.born) {
      // The spec's answer to a host that went away: die (NDEATH) and come back as a new session,
      // which births only once the host is back.
      this.logger.warn({ host: this.settings.primaryHostId }, 'sparkplug primary host offline: NDEATH, new session waits for it');
      void this.die().then(() => this.client.reconnect());
    }
  }

  private async die(): Promise<void> {
    this.born = false;
    if (this.client.connected) await this.client.publishAsync(this.topic('NDEATH'), Buffer.from(this.codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.bdSeq }] })), { qos: 1 }).catch(() => undefined);
    await this.client.endAsync().catch(() => undefined);
  }

  private birth(): void {
    void this.publish('NBIRTH', undefined, [
      { name: 'bdSeq', type: 'UInt64', value: this.bdSeq },
      { name: REBIRTH, type: 'Boolean', value: false },
    ]);
    for (const asset of this.assets.keys()) this.birthAsset(asset);
  }

  private birthAsset(asset: string): void {
    const view = this.assets.get(asset);
    if (!view) return;
    view.born = new Set(Object.keys(view.contributions));
    view.lastDataAt = Date.now();
    void this.publish('DBIRTH', asset, [
      { name: 'state', type: 'String', value: view.state },
      { name: 'alarm', type: 'Boolean', value: view.state === null ? null : view.state === 'anomalous' },
      ...this.valueMetrics(view),
      { name: 'episode/event', type: 'String', value: null },
      { name: 'episode/id', type: 'String', value: null },
      { name: 'episode/severity', type: 'String', value: null },
    ]);
  }

  private valueMetrics(view: AssetView): UMetric[] {
    return [
      { name: 'score', type: 'Double', value: view.score },
      { name: 'threshold/high', type: 'Double', value: view.high },
      { name: 'threshold/low', type: 'Double', value: view.low },
      ...Object.entries(view.contributions).map(([sensor, share]): UMetric => ({ name: `contributors/${sensor}`, type: 'Double', value: share })),
    ];
  }

  private onCommand(topic: string, payload: Buffer): void {
    if (this.settings.primaryHostId !== '' && topic === this.stateTopic()) {
      this.onHostState(payload);
      return;
    }
    if (topic !== this.topic('NCMD') || !this.born) return;
    let decoded: UPayload;
    try {
      decoded = this.codec.decodePayload(payload);
    } catch {
      this.logger.warn('sparkplug NCMD that is not a Sparkplug payload; ignored');
      return;
    }
    if (decoded.metrics?.some((metric) => metric.name === REBIRTH && metric.value === true)) {
      this.logger.info('sparkplug host asked for a rebirth');
      this.birth();
    }
  }

  /** The live view of an asset, from each decision: births and data follow from it. */
  observe(decision: DecisionMessage, now = Date.now()): void {
    let view = this.assets.get(decision.asset);
    if (!view) {
      view = { state: null, score: null, high: null, low: null, contributions: {}, born: undefined, lastDataAt: 0 };
      this.assets.set(decision.asset, view);
    }
    const stateChanged = view.state !== decision.state;
    view.state = decision.state;
    view.score = decision.score;
    view.high = decision.threshold.high;
    view.low = decision.threshold.low;
    view.contributions = decision.contributions;
    if (!this.client.connected) return;
    // A sensor the DBIRTH did not declare: birth the asset again (the spec's way to add metrics).
    if (view.born === undefined || Object.keys(view.contributions).some((sensor) => !view.born?.has(sensor))) {
      this.birthAsset(decision.asset);
      return;
    }
    if (stateChanged) {
      view.lastDataAt = now;
      void this.publish('DDATA', decision.asset, [
        { name: 'state', type: 'String', value: view.state },
        { name: 'alarm', type: 'Boolean', value: view.state === 'anomalous' },
        ...this.valueMetrics(view),
      ]);
    } else if (now - view.lastDataAt >= this.settings.dataIntervalMs) {
      view.lastDataAt = now;
      void this.publish('DDATA', decision.asset, this.valueMetrics(view));
    }
  }

  /** An asset the publisher stopped tracking: its DDEATH. */
  forget(asset: string): void {
    if (this.assets.delete(asset)) void this.publish('DDEATH', asset, []);
  }

  /** Sends the episode events the outbox holds for Sparkplug, oldest first, one at a time. */
  kick(): void {
    if (this.sending || !this.client.connected || !this.born) return;
    const next = this.outbox.pendingOldestFirst('sparkplug').next();
    if (next.done === true) return;
    this.sending = true;
    void this.sendEvent(next.value).then((sent) => {
      this.sending = false;
      if (sent) {
        this.outbox.ack(next.value.id, 'sparkplug');
        this.kick();
      }
    });
  }

  private async sendEvent(alert: Alert): Promise<boolean> {
    if (!this.assets.has(alert.asset)) {
      this.assets.set(alert.asset, { state: null, score: alert.score, high: alert.threshold, low: null, contributions: {}, born: undefined, lastDataAt: 0 });
    }
    if (this.assets.get(alert.asset)?.born === undefined) this.birthAsset(alert.asset);
    // An event from before this connection is history to the host, at its own time.
    const isHistorical = alert.ts < this.connectedAt - 1_000;
    const metric = (name: string, value: string): UMetric => ({ name, type: 'String', value, timestamp: alert.ts, ...(isHistorical ? { isHistorical: true } : {}) });
    return this.publish(
      'DDATA',
      alert.asset,
      [metric('episode/event', alert.event ?? 'raised'), metric('episode/id', alert.episode ?? alert.id), metric('episode/severity', alert.severity)],
      alert.ts,
    );
  }

  async stop(): Promise<void> {
    // A clean stop says NDEATH itself (the will is only for deaths), then leaves.
    this.client.removeAllListeners('close');
    await this.die();
  }
}

function readBdSeq(path: string): number {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(value) && value >= 0 && value <= 255 ? value : -1;
  } catch {
    return -1;
  }
}

function writeBdSeq(path: string, value: number): void {
  try {
    writeFileSync(path, `${value}\n`);
  } catch {
    // A bdSeq not kept only makes a host see a restart as a new session, which it is.
  }
}
