/**
 * The message schema between stages (contract: DESIGN.md "Data flow"). One JSON object per
 * ZeroMQ frame; every message carries the schema version, asset, seq (per asset, strictly
 * increasing from the sensor-reader) and ts (sensor time, ms since epoch). `ingestTs` is the
 * reader's wall clock when it sent the reading, so stage latency is measurable even when `ts`
 * is historic (CSV replay).
 */
import { DATE_RANGE_MS } from './sensor-time.js';

export const SCHEMA_VERSION = 1;

/** Largest frame any stage accepts; a bigger one is rejected before it is parsed. */
export const MAX_FRAME_BYTES = 64 * 1024;

export interface Envelope {
  v: typeof SCHEMA_VERSION;
  asset: string;
  seq: number;
  ts: number;
  ingestTs: number;
}

/** A reading value: a number, null (missing), or a non-finite marker (JSON has no NaN). */
export type ReadingValue = number | null | 'NaN' | 'Infinity' | '-Infinity';

export interface ReadingMessage extends Envelope {
  kind: 'reading';
  channels: Record<string, ReadingValue>;
}

export interface FeaturesMessage extends Envelope {
  kind: 'features';
  /** Feature vector in the order the preprocessor's feature names give. */
  features: number[];
  /** True while the scaler or the window is still filling: not yet fit to score. */
  warmup: boolean;
  /** Channels imputed by forward fill in this sample (an operator wants to know). */
  imputed: string[];
}

export interface ModelRef {
  name: string;
  version: string;
}

export interface ScoreMessage extends Envelope {
  kind: 'score';
  score: number;
  /** Share of the score per sensor channel, summing to 1 (0 for all when score is 0). */
  contributions: Record<string, number>;
  warmup: boolean;
  model: ModelRef;
  /**
   * Present when `score` is a calibrated surprise (-log10 of how rare such data was in the model's
   * learning period), with the sample period it was learned at: the threshold then sets its alarm
   * from a false-alarm rate, not from statistics of the scores. `weight`: this sample's share of
   * an independent observation (1 / the correlation time of the statistic that scored it).
   * `changedLevel`: the model judges against a new level the asset settled at (it reads `changed`
   * after an alarm); `newLevel`: it took that level on this sample, unmistakably, a change the alarm
   * must report; `homeSurprise`/`homeWeight`: while it judges from a new level, the sample judged
   * from the learned baseline (what an asset read as normal is judged by).
   */
  calibrated?: { samplePeriodMs: number; weight?: number; changedLevel?: boolean; newLevel?: boolean; homeSurprise?: number; homeWeight?: number };
}

/**
 * `changed`: the asset settled at a level away from the one learned and holds it; not normal (a
 * fault that persists never reads as normal), and not a fresh alarm: the next change alarms anew.
 */
export type AssetState = 'warmup' | 'normal' | 'anomalous' | 'changed';

export interface DecisionMessage extends Envelope {
  kind: 'decision';
  state: AssetState;
  /** True on the sample where the state changed. */
  changed: boolean;
  /** ts of the sample where the current state began. */
  since: number;
  score: number;
  threshold: { high: number; low: number };
  contributions: Record<string, number>;
  model: ModelRef;
}

export type PipelineMessage = ReadingMessage | FeaturesMessage | ScoreMessage | DecisionMessage;
export type MessageKind = PipelineMessage['kind'];

/** Closed set of rejection reasons: they become metric labels, so they must stay bounded. */
export type RejectReason =
  | 'oversized'
  | 'multipart'
  | 'not_json'
  | 'not_object'
  | 'schema_version'
  | 'wrong_kind'
  | 'bad_envelope'
  | 'bad_payload'
  | 'out_of_order';

export class MessageError extends Error {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(detail);
    this.name = 'MessageError';
  }
}

export function isMessageError(error: unknown): error is MessageError {
  return error instanceof MessageError;
}

const ASSET_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** An asset id every stage accepts (1-64 of [A-Za-z0-9_.-]): checked where a name enters. */
export function isValidAssetId(value: unknown): boolean {
  return typeof value === 'string' && ASSET_PATTERN.test(value);
}

export function encodeMessage(message: PipelineMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** Parses and validates one frame as a message of the expected kind, or throws MessageError. */
export function decodeMessage<K extends MessageKind>(frame: Buffer, kind: K): Extract<PipelineMessage, { kind: K }> {
  if (frame.length > MAX_FRAME_BYTES) throw new MessageError('oversized', `frame of ${frame.length} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.toString('utf8'));
  } catch {
    throw new MessageError('not_json', 'frame is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MessageError('not_object', 'frame is not a JSON object');
  }
  const message = parsed as Record<string, unknown>;
  if (message.v !== SCHEMA_VERSION) {
    throw new MessageError('schema_version', `schema version ${String(message.v)}, expected ${SCHEMA_VERSION}`);
  }
  if (message.kind !== kind) throw new MessageError('wrong_kind', `kind ${String(message.kind)}, expected ${kind}`);
  validateEnvelope(message);
  PAYLOAD_VALIDATORS[kind](message);
  return message as unknown as Extract<PipelineMessage, { kind: K }>;
}

function validateEnvelope(message: Record<string, unknown>): void {
  if (typeof message.asset !== 'string' || !ASSET_PATTERN.test(message.asset)) {
    throw new MessageError('bad_envelope', 'asset must be 1-64 characters of [A-Za-z0-9_.-]');
  }
  if (!Number.isSafeInteger(message.seq) || (message.seq as number) < 0) {
    throw new MessageError('bad_envelope', 'seq must be a non-negative integer');
  }
  if (!isFiniteNumber(message.ts) || !isFiniteNumber(message.ingestTs)) {
    throw new MessageError('bad_envelope', 'ts and ingestTs must be finite numbers');
  }
  // Every time must be one a Date holds: stages format them, and a throw there would come after
  // the decision a message carries (an alarm lost to `Invalid time value`).
  if (Math.abs(message.ts as number) > DATE_RANGE_MS || Math.abs(message.ingestTs as number) > DATE_RANGE_MS) {
    throw new MessageError('bad_envelope', 'ts and ingestTs must be milliseconds inside the date range (±8.64e15)');
  }
}

const PAYLOAD_VALIDATORS: Record<MessageKind, (message: Record<string, unknown>) => void> = {
  reading(message) {
    const channels = message.channels;
    if (typeof channels !== 'object' || channels === null || Array.isArray(channels)) {
      throw new MessageError('bad_payload', 'channels must be an object');
    }
    const entries = Object.entries(channels);
    if (entries.length === 0 || entries.length > 256) {
      throw new MessageError('bad_payload', 'channels must have 1-256 entries');
    }
    for (const [name, value] of entries) {
      if (name === '' || name.length > 128) throw new MessageError('bad_payload', 'a channel name is empty or longer than 128 characters');
      if (!isReadingValue(value)) throw new MessageError('bad_payload', 'a channel value is not a number');
    }
  },
  features(message) {
    if (!isFiniteNumberArray(message.features)) {
      throw new MessageError('bad_payload', 'features must be an array of finite numbers');
    }
    if (typeof message.warmup !== 'boolean' || !isStringArray(message.imputed)) {
      throw new MessageError('bad_payload', 'warmup must be boolean and imputed a list of names');
    }
  },
  score(message) {
    if (!isFiniteNumber(message.score) || (message.score as number) < 0) {
      throw new MessageError('bad_payload', 'score must be a finite non-negative number');
    }
    if (!isNumberRecord(message.contributions) || typeof message.warmup !== 'boolean' || !isModelRef(message.model)) {
      throw new MessageError('bad_payload', 'score needs contributions, warmup and model');
    }
    const calibrated = message.calibrated as Record<string, unknown> | undefined;
    if (
      calibrated !== undefined &&
      (typeof calibrated !== 'object' ||
        calibrated === null ||
        !isFiniteNumber(calibrated.samplePeriodMs) ||
        calibrated.samplePeriodMs <= 0 ||
        (calibrated.weight !== undefined && (!isFiniteNumber(calibrated.weight) || calibrated.weight <= 0 || calibrated.weight > 1)) ||
        (calibrated.changedLevel !== undefined && typeof calibrated.changedLevel !== 'boolean') ||
        (calibrated.newLevel !== undefined && typeof calibrated.newLevel !== 'boolean') ||
        (calibrated.homeSurprise !== undefined && (!isFiniteNumber(calibrated.homeSurprise) || calibrated.homeSurprise < 0)) ||
        (calibrated.homeWeight !== undefined && (!isFiniteNumber(calibrated.homeWeight) || calibrated.homeWeight <= 0 || calibrated.homeWeight > 1)))
    ) {
      throw new MessageError('bad_payload', 'calibrated must carry a positive samplePeriodMs, weights in (0, 1], boolean changedLevel and newLevel, and a non-negative homeSurprise');
    }
  },
  decision(message) {
    if (message.state !== 'warmup' && message.state !== 'normal' && message.state !== 'anomalous' && message.state !== 'changed') {
      throw new MessageError('bad_payload', 'state must be warmup, normal, anomalous or changed');
    }
    const threshold = message.threshold as Record<string, unknown> | null;
    if (
      typeof message.changed !== 'boolean' ||
      !isFiniteNumber(message.since) ||
      Math.abs(message.since as number) > DATE_RANGE_MS ||
      !isFiniteNumber(message.score) ||
      typeof threshold !== 'object' ||
      threshold === null ||
      !isFiniteNumber(threshold.high) ||
      !isFiniteNumber(threshold.low) ||
      !isNumberRecord(message.contributions) ||
      !isModelRef(message.model)
    ) {
      throw new MessageError('bad_payload', 'decision fields are missing or of the wrong type');
    }
  },
};

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isReadingValue(value: unknown): value is ReadingValue {
  return value === null || typeof value === 'number' || value === 'NaN' || value === 'Infinity' || value === '-Infinity';
}

function isFiniteNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.length <= 4096 && value.every(isFiniteNumber);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isNumberRecord(value: unknown): value is Record<string, number> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every(isFiniteNumber)
  );
}

function isModelRef(value: unknown): value is ModelRef {
  const model = value as Record<string, unknown> | null;
  return typeof model === 'object' && model !== null && typeof model.name === 'string' && typeof model.version === 'string';
}

/** Reading value as a number; NaN for missing or a non-finite marker. */
export function readingValueToNumber(value: ReadingValue): number {
  if (value === null) return Number.NaN;
  if (typeof value === 'number') return value;
  return Number(value);
}

/** The inverse, for encoding: JSON would turn NaN and ±Infinity into null and lose the reason. */
export function numberToReadingValue(value: number): ReadingValue {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}
