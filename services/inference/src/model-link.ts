/**
 * The model's side of MQTT: a retained `<prefix>/<device>/<asset>/model` topic per asset, saying
 * which model is active, which are kept, whether one is pinned and what learn mode is doing; and
 * the model commands on `…/command` (relearn, rollback, pin, unpin), each answered on
 * `…/command/result` and written to an audit log beside the models. The alarm commands on the same
 * topic are the alert-publisher's, and so is an answer to a payload that is not a command at all.
 *
 *   {"id": "m-1", "command": "rollback", "by": "j.doe"}
 *   {"id": "m-2", "command": "pin", "version": "2026-12-03T10:00:00.000Z"}   (no version: the active one)
 *   {"id": "m-3", "command": "unpin"}
 *   {"id": "m-4", "command": "relearn"}     learn anew from now; the active model scores meanwhile
 * A `feedback` with verdict `new-normal` (the alert-publisher's command, which it answers) also
 * starts a relearn here. On the device's own topic, `<prefix>/<device>/command`, a command is for
 * every asset (its `asset` is EVERY_ASSET): a `relearn` there relearns every model.
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  AuditLog,
  commandResult,
  commandText,
  EVERY_ASSET,
  isValidAssetId,
  MAX_COMMAND_BYTES,
  MODEL_COMMANDS,
  reconnectWithBackoff,
  type Logger,
  type ModelCommandName,
} from '@vigil/shared/runtime';

export interface ModelCommand {
  id: string;
  command: ModelCommandName;
  /** From a `feedback` with verdict `new-normal`: carried out, answered by the alert-publisher. */
  silent?: boolean;
  asset: string;
  /** pin: the version to pin (empty: the active one). */
  version: string;
  by: string;
}

export interface ModelStatus {
  active: { name: string; version: string; kind: string; source: string; registeredAt: string } | null;
  pinned: string | null;
  learn: { state: 'idle' | 'collecting' | 'training' | 'failed'; progress: number; reason?: string };
  kept: Array<{ name: string; version: string; source: string; registeredAt: string; samples: number }>;
  /** The last bundle delivered to the fleet (MQTT or URL): taken, refused (why), or already in service. */
  lastDelivery?: { at: string; from: string; outcome: string; version?: string; reason?: string };
  /** A newcomer scoring beside the model in service, and how many alarms each raised so far. */
  shadow?: { version: string; since: string; samples: number; alarms: { inService: number; candidate: number } };
  /** How the last shadow period ended. */
  lastShadow?: { version: string; outcome: 'promoted' | 'kept-as-candidate'; reason: string };
}

export interface ModelLinkSettings {
  url: string;
  username: string;
  password: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  topicPrefix: string;
  deviceId: string;
  auditPath: string;
  /** The fleet's bundle topic (retained archives); empty: none. */
  fleetTopic: string;
}

/** Assets the model topic is kept for; past it, new names get none (they still get scores). */
const MAX_MODEL_TOPIC_ASSETS = 64;

/** A model command, or undefined for anything else (another service's command, or not a command). */
export function parseModelCommand(payload: Buffer, asset: string): ModelCommand | { refused: string; id: string; command: string } | undefined {
  if (payload.length > MAX_COMMAND_BYTES) return undefined;
  let fields: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    fields = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const command = commandText(fields.command, 16) ?? '';
  const id = commandText(fields.id, 64);
  // The operator says the machine's new state is normal: learn it. The publisher records and answers it.
  if (command === 'feedback' && fields.verdict === 'new-normal' && id) return { id, command: 'relearn', asset, version: '', by: commandText(fields.by, 64) ?? '', silent: true };
  if (!(MODEL_COMMANDS as readonly string[]).includes(command)) return undefined;
  if (!id) return { refused: 'id must be a string of 1-64 characters', id: '', command };
  return { id, command: command as ModelCommandName, asset, version: commandText(fields.version, 128) ?? '', by: commandText(fields.by, 64) ?? '' };
}

export class ModelLink {
  private readonly client: MqttClient;
  private readonly assets = new Set<string>();
  private readonly audit: AuditLog;

  constructor(
    private readonly settings: ModelLinkSettings,
    private readonly logger: Logger,
    /** Carries a command out: undefined when accepted, else why it is refused. */
    private readonly carryOut: (command: ModelCommand) => Promise<string | undefined>,
    /** What an asset's model topic says now; undefined: nothing (an asset the service does not serve). */
    private readonly statusOf: (asset: string) => ModelStatus | undefined,
    /** A bundle archive from the fleet topic. */
    private readonly onFleetBundle: (archive: Buffer) => void = () => undefined,
  ) {
    this.audit = new AuditLog(settings.auditPath);
    const options: IClientOptions = {
      clientId: `vigil-${settings.deviceId}-models`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      writeCache: false,
      ...(settings.username ? { username: settings.username, password: settings.password } : {}),
      ...(settings.caFile ? { ca: readFileSync(settings.caFile) } : {}),
      ...(settings.certFile ? { cert: readFileSync(settings.certFile) } : {}),
      ...(settings.keyFile ? { key: readFileSync(settings.keyFile) } : {}),
    };
    this.client = connect(settings.url, options);
    reconnectWithBackoff(this.client);
    this.client.on('connect', () => {
      this.client.subscribe([`${settings.topicPrefix}/${settings.deviceId}/+/command`, `${settings.topicPrefix}/${settings.deviceId}/command`], { qos: 1 });
      if (settings.fleetTopic !== '') this.client.subscribe(settings.fleetTopic, { qos: 1 });
      for (const asset of this.assets) this.publishStatus(asset);
    });
    this.client.on('error', (error) => this.logger.debug({ err: error.message }, 'model link: mqtt error'));
    this.client.on('message', (topic, payload) => void this.onMessage(topic, payload));
  }

  /** An asset the service scores: it gets the model topic. */
  noteAsset(asset: string): void {
    if (this.assets.has(asset) || this.assets.size >= MAX_MODEL_TOPIC_ASSETS || !isValidAssetId(asset)) return;
    this.assets.add(asset);
    this.publishStatus(asset);
  }

  /** A model's state changed: the topic of these assets (all it knows of, when none are named) says so. */
  announce(assets?: readonly string[]): void {
    for (const asset of assets ?? this.assets) if (this.assets.has(asset)) this.publishStatus(asset);
  }

  private publishStatus(asset: string): void {
    const status = this.statusOf(asset);
    if (!status || !this.client.connected) return;
    this.client.publish(`${this.settings.topicPrefix}/${this.settings.deviceId}/${asset}/model`, JSON.stringify(status), { qos: 1, retain: true });
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (this.settings.fleetTopic !== '' && topic === this.settings.fleetTopic) {
      // An empty retained message is the fleet taking its bundle back: nothing to install.
      if (payload.length > 0) this.onFleetBundle(payload);
      return;
    }
    const head = `${this.settings.topicPrefix}/${this.settings.deviceId}/`;
    const wholeDevice = topic === `${head}command`;
    if (!wholeDevice && (!topic.startsWith(head) || !topic.endsWith('/command'))) return;
    const asset = wholeDevice ? EVERY_ASSET : topic.slice(head.length, -'/command'.length);
    if (!wholeDevice && !isValidAssetId(asset)) return;
    const parsed = parseModelCommand(payload, asset);
    // Feedback is on one episode of one asset: the publisher refuses it on the device's topic.
    if (parsed === undefined || (wholeDevice && 'silent' in parsed)) return;
    let reason = 'refused' in parsed ? parsed.refused : undefined;
    if (!('refused' in parsed)) {
      try {
        reason = await this.carryOut(parsed);
      } catch (error) {
        reason = `failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    const result = commandResult(parsed, asset, reason);
    this.audit.write({ ...result, request: 'refused' in parsed ? undefined : parsed });
    this.logger.info({ ...result }, 'model command');
    if (!('refused' in parsed) && parsed.silent) return;
    if (this.client.connected) this.client.publish(`${topic}/result`, JSON.stringify(result), { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
