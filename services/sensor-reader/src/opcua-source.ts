/**
 * Reads an OPC UA server (a PLC, a SCADA gateway, a historian) by subscription: each channel is a
 * monitored item, so the server sends a value when it changes and nothing is polled. A sample
 * goes out at the sample rate with each channel's latest value; a value whose status is not Good
 * makes that channel missing (the preprocessor imputes it), never the sample.
 *
 * The link is owned here, not left to the client library's repair: when the connection or the
 * session is lost, everything is closed and opened anew (client, session, subscription, items)
 * with doubling waits with jitter (at most 5 s), so a server that restarted (and forgot every session) is read
 * again within seconds; each sample the outage costs is counted as lost.
 *
 * node-opcua is loaded only when this source is configured: it costs tens of MB (bench:memory).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Opcua from 'node-opcua-client';
import { Backoff, LAN_RECONNECT } from '@vigil/shared/runtime';
import { sleepUntil, type EmitSample, type RejectInput, type SampleSource } from './sample-source.js';

export type OpcuaSecurityMode = 'None' | 'Sign' | 'SignAndEncrypt';
export type OpcuaSecurityPolicy = 'None' | 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';

export interface OpcuaNode {
  channel: string;
  nodeId: string;
}

export interface OpcuaSourceOptions {
  endpoint: string;
  securityMode: OpcuaSecurityMode;
  securityPolicy: OpcuaSecurityPolicy;
  /** User identity: anonymous when neither a user name nor a certificate is given. */
  username: string;
  password: string;
  userCertificateFile: string;
  userPrivateKeyFile: string;
  /** Where the client keeps its application certificate and the server certificates it trusts. */
  pkiDir: string;
  nodes: OpcuaNode[];
  rateHz: number;
  asset: string;
  /** Called with each change of the link (for logs and the connection gauge). */
  onLink?: (up: boolean, detail: string) => void;
}


/** The node id forms of the OPC UA spec (Part 6, 5.3.1.10): checked at start, before any connection. */
export function isNodeId(text: string): boolean {
  return /^(ns=\d+;|nsu=[^;]+;)?(i=\d+|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/]+=*)$/.test(text);
}

/** A channel map for OPC UA: [{"channel": ..., "nodeId": ...}] or {"<channel>": "<node id>"}, every problem listed. */
export function checkNodeMap(parsed: unknown): OpcuaNode[] {
  const entries: unknown[] =
    Array.isArray(parsed) ? parsed : typeof parsed === 'object' && parsed !== null ? Object.entries(parsed).map(([channel, nodeId]) => ({ channel, nodeId })) : [];
  if (entries.length === 0) throw new Error('OPC UA node map must be a non-empty array of {"channel", "nodeId"} or an object of "<channel>": "<node id>"');
  const problems: string[] = [];
  const nodes = entries.map((entry, index): OpcuaNode => {
    const { channel, nodeId } = (entry ?? {}) as Record<string, unknown>;
    if (typeof channel !== 'string' || channel.trim() === '') problems.push(`node ${index}: channel must be a name`);
    if (typeof nodeId !== 'string' || !isNodeId(nodeId)) problems.push(`node ${index}: nodeId must be an OPC UA node id such as ns=2;s=Pump1.Pressure or ns=3;i=1001`);
    return { channel: String(channel).trim(), nodeId: String(nodeId) };
  });
  const seen = new Set<string>();
  for (const { channel } of nodes) {
    if (seen.has(channel)) problems.push(`channel ${channel} is mapped twice`);
    seen.add(channel);
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return nodes;
}

export function parseNodeMap(json: string): OpcuaNode[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('OPC UA node map is not valid JSON');
  }
  return checkNodeMap(parsed);
}

function loadOpcua(): typeof Opcua {
  return createRequire(import.meta.url)('node-opcua-client') as typeof Opcua;
}

/** A number from an OPC UA value, or NaN for what is not one (a string, an array, null). */
function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  // Int64 and UInt64 arrive as [high, low] 32-bit words.
  if (Array.isArray(value) && value.length === 2 && value.every((word) => typeof word === 'number')) return (value[0] as number) * 2 ** 32 + (value[1] as number);
  return Number.NaN;
}

interface Link {
  client: Opcua.OPCUAClient;
  session: Opcua.ClientSession;
  /** Resolves when the link is lost, with why. */
  lost: Promise<string>;
}

export class OpcuaSource implements SampleSource {
  readonly name = 'opcua';
  private readonly opcua = loadOpcua();
  private readonly abort = new AbortController();
  private readonly latest = new Map<string, number>();
  private rateHz: number;
  private up = false;
  private running: Promise<unknown> | undefined;
  private link: Link | undefined;

  constructor(private readonly options: OpcuaSourceOptions) {
    this.rateHz = options.rateHz;
  }

  async start(emit: EmitSample, reject: RejectInput): Promise<void> {
    this.running = Promise.all([this.keepLinked(reject), this.sample(emit, reject)]);
  }

  setRate(rateHz: number): void {
    this.rateHz = rateHz;
  }

  /** At the sample rate: the latest value of every channel, or a sample counted as lost while unlinked. */
  private async sample(emit: EmitSample, reject: RejectInput): Promise<void> {
    let deadline = Date.now();
    while (!this.abort.signal.aborted) {
      deadline = Math.max(deadline + 1000 / this.rateHz, Date.now());
      await sleepUntil(deadline, this.abort.signal);
      if (this.abort.signal.aborted) break;
      if (!this.up) {
        reject('opcua_down', 'sample lost: the OPC UA server is not connected');
        continue;
      }
      const channels: Record<string, number> = {};
      for (const { channel } of this.options.nodes) channels[channel] = this.latest.get(channel) ?? Number.NaN;
      await emit({ asset: this.options.asset, ts: Date.now(), channels });
    }
  }

  private async keepLinked(reject: RejectInput): Promise<void> {
    const waits = new Backoff(LAN_RECONNECT);
    while (!this.abort.signal.aborted) {
      let why: string;
      try {
        this.link = await this.open(reject);
        waits.reset();
        this.up = true;
        this.options.onLink?.(true, this.options.endpoint);
        const aborted = new Promise<string>((resolve) => this.abort.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
        why = await Promise.race([this.link.lost, aborted]);
      } catch (error) {
        why = error instanceof Error ? error.message : String(error);
      }
      this.up = false;
      this.latest.clear();
      await this.close();
      if (this.abort.signal.aborted) break;
      const wait = waits.next();
      this.options.onLink?.(false, `${why}; reconnecting in ${wait} ms`);
      await sleepUntil(Date.now() + wait, this.abort.signal);
    }
  }

  private async open(reject: RejectInput): Promise<Link> {
    const { OPCUAClient, MessageSecurityMode, SecurityPolicy, UserTokenType, AttributeIds, TimestampsToReturn, ClientMonitoredItemGroup, StatusCodes } = this.opcua;
    const { options } = this;
    const client = OPCUAClient.create({
      applicationName: 'vigil',
      endpointMustExist: false,
      securityMode: MessageSecurityMode[options.securityMode],
      securityPolicy: SecurityPolicy[options.securityPolicy],
      // One attempt per open: the waits between attempts are this source's, with jitter.
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 100 },
      keepSessionAlive: true,
      clientCertificateManager: new (createRequire(import.meta.url)('node-opcua-certificate-manager') as typeof import('node-opcua-certificate-manager')).OPCUACertificateManager({
        rootFolder: options.pkiDir,
        automaticallyAcceptUnknownCertificate: true,
      }),
    });
    let markLost: (why: string) => void = () => undefined;
    const lost = new Promise<string>((resolve) => (markLost = resolve));
    client.on('connection_lost', () => markLost('connection lost'));
    client.on('close', () => markLost('connection closed'));
    try {
      await client.connect(options.endpoint);
      const identity: Opcua.UserIdentityInfo =
        options.username !== ''
          ? { type: UserTokenType.UserName, userName: options.username, password: options.password }
          : options.userCertificateFile !== ''
            ? {
                type: UserTokenType.Certificate,
                // DER from PEM, and the key as the PEM text the token wants.
                certificateData: new X509Certificate(readFileSync(options.userCertificateFile)).raw,
                privateKey: readFileSync(options.userPrivateKeyFile, 'utf8'),
              }
            : { type: UserTokenType.Anonymous };
      const session = await client.createSession(identity);
      session.on('session_closed', () => markLost('session closed'));
      session.on('keepalive_failure', () => markLost('the server stopped answering keep-alives'));
      const intervalMs = Math.max(50, Math.round(1000 / this.rateHz));
      const subscription = await session.createSubscription2({
        requestedPublishingInterval: intervalMs,
        requestedMaxKeepAliveCount: 10,
        requestedLifetimeCount: 60,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      });
      subscription.on('terminated', () => markLost('subscription terminated'));
      const group = ClientMonitoredItemGroup.create(
        subscription,
        options.nodes.map(({ nodeId }) => ({ nodeId, attributeId: AttributeIds.Value })),
        { samplingInterval: intervalMs, discardOldest: true, queueSize: 1 },
        TimestampsToReturn.Both,
      );
      group.on('changed', (_item, dataValue, index) => {
        const node = options.nodes[index];
        if (!node) return;
        const good = dataValue.statusCode.isGood();
        const value = good ? numeric(dataValue.value.value) : Number.NaN;
        if (!good) reject('opcua_status', `${node.channel} (${node.nodeId}): ${dataValue.statusCode.name}`);
        else if (Number.isNaN(value)) reject('opcua_value', `${node.channel} (${node.nodeId}): not a number`);
        this.latest.set(node.channel, value);
      });
      // An item the server refused (an unknown node id): its channel stays missing, said once.
      for (const [index, item] of group.monitoredItems.entries()) {
        const status = item.statusCode;
        if (status !== undefined && status !== StatusCodes.Good && !status.isGood()) {
          const node = options.nodes[index];
          reject('opcua_status', `${node?.channel ?? index} (${node?.nodeId ?? ''}) cannot be monitored: ${status.name}`);
        }
      }
      return { client, session, lost };
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private async close(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    if (!link) return;
    // A server that is gone does not answer a polite close: do not wait for it long.
    await Promise.race([link.session.close(true).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    await Promise.race([link.client.disconnect().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000))]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
