/**
 * Operator commands over MQTT, on `vigil/<device>/<asset>/command`: JSON with a request id, each
 * answered on `…/command/result` (accepted, or refused with the reason) and written to an audit log
 * on the device. Who may publish there is the broker's business: the stack's broker lets only its
 * operator user write command topics (mosquitto/entrypoint.sh), and its in-stack listener is not
 * published.
 *
 *   {"id": "r-17", "command": "ack", "episode": "<episode id>", "by": "j.doe"}
 *   {"id": "r-18", "command": "mute", "until": "2026-12-03T18:00:00Z", "reason": "maintenance"}
 *   {"id": "r-19", "command": "unmute"}
 *   {"id": "r-20", "command": "feedback", "episode": "<episode id>", "verdict": "false-positive", "note": "valve test"}
 * The model commands (relearn, rollback, pin, unpin) on the same topic are the inference service's.
 * The device's own topic, `vigil/<device>/command`, takes what applies to every asset at once:
 * `mute` and `unmute` here, `relearn` in the inference service; answered on its `…/command/result`.
 */
import { ALARM_COMMANDS, commandText as text, EVERY_ASSET, FEEDBACK_VERDICTS, MAX_COMMAND_BYTES, MODEL_COMMANDS, type FeedbackVerdict } from '@vigil/shared/runtime';
import { readStateFile, replaceStateFile } from './state-file.js';

export const COMMANDS = ALARM_COMMANDS;
export type CommandName = (typeof COMMANDS)[number];

/** The longest mute one command may set: maintenance, not a way to switch the asset off. */
export const MAX_MUTE_MS = 7 * 86_400_000;

export type Command =
  | { id: string; command: 'ack'; episode: string; by: string }
  | { id: string; command: 'mute'; untilMs: number; reason: string; by: string }
  | { id: string; command: 'unmute'; by: string }
  | { id: string; command: 'feedback'; episode: string; verdict: FeedbackVerdict; note: string; by: string };

/** Parses a command payload, or says why it is refused; undefined for a model command (the inference service's). */
export function parseCommand(payload: Buffer, now: number): Command | { refused: string; id: string; command: string } | undefined {
  if (payload.length > MAX_COMMAND_BYTES) return { refused: `larger than ${MAX_COMMAND_BYTES} bytes`, id: '', command: '' };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { refused: 'not JSON', id: '', command: '' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { refused: 'not a JSON object', id: '', command: '' };
  const fields = body as Record<string, unknown>;
  const id = text(fields.id, 64);
  const command = text(fields.command, 16) ?? '';
  if (!id) return { refused: 'id must be a string of 1-64 characters', id: '', command };
  const by = text(fields.by, 64) ?? '';
  switch (command) {
    case 'ack': {
      const episode = text(fields.episode, 256);
      return episode ? { id, command, episode, by } : { refused: 'ack needs "episode"', id, command };
    }
    case 'mute': {
      const until = typeof fields.until === 'number' ? fields.until : typeof fields.until === 'string' ? Date.parse(fields.until) : Number.NaN;
      if (!Number.isFinite(until) || until <= now) return { refused: '"until" must be a time in the future (ISO 8601 or ms)', id, command };
      if (until - now > MAX_MUTE_MS) return { refused: 'a mute lasts at most 7 days', id, command };
      return { id, command, untilMs: until, reason: text(fields.reason, 200) ?? '', by };
    }
    case 'unmute':
      return { id, command, by };
    case 'feedback': {
      const episode = text(fields.episode, 256);
      const verdict = FEEDBACK_VERDICTS.find((known) => known === fields.verdict);
      if (!episode) return { refused: 'feedback needs "episode"', id, command };
      if (!verdict) return { refused: `"verdict" must be one of ${FEEDBACK_VERDICTS.join(', ')}`, id, command };
      return { id, command, episode, verdict, note: text(fields.note, 200) ?? '', by };
    }
    default:
      if ((MODEL_COMMANDS as readonly string[]).includes(command)) return undefined;
      return { refused: `unknown command; one of ${[...COMMANDS, ...MODEL_COMMANDS].join(', ')}`, id, command };
  }
}

/** Why a command cannot be sent to the whole device, or undefined when it can. */
export function deviceCommandProblem(command: Command['command']): string | undefined {
  return command === 'ack' || command === 'feedback' ? `${command} is about one episode of one asset: send it on the asset's topic, …/<asset>/command` : undefined;
}

/** Mutes per asset, expiring by themselves. */
export class Mutes {
  private readonly until = new Map<string, number>();

  /**
   * With a path, mutes survive a restart: a small JSON file beside the outbox, replaced by a
   * rename. An operator who muted an asset for tonight's maintenance must not get its alarms again
   * because the publisher restarted (a power cut, an update) in the middle of it.
   */
  constructor(
    private readonly path?: string,
    now = Date.now(),
  ) {
    if (path === undefined) return;
    // None yet, or torn: no mute is the state a missing file means.
    const stored = readStateFile(path);
    if (typeof stored !== 'object' || stored === null) return;
    for (const [asset, untilMs] of Object.entries(stored)) {
      if (typeof untilMs === 'number' && untilMs > now && untilMs - now <= MAX_MUTE_MS) this.until.set(asset, untilMs);
    }
  }

  set(asset: string, untilMs: number): void {
    this.until.set(asset, untilMs);
    this.save();
  }

  clear(asset: string): boolean {
    const cleared = this.until.delete(asset);
    if (cleared) this.save();
    return cleared;
  }

  /** Muted itself, or with the whole device (a mute under EVERY_ASSET). */
  isMuted(asset: string, now: number): boolean {
    return this.mutedAs(asset, now) || this.mutedAs(EVERY_ASSET, now);
  }

  private mutedAs(asset: string, now: number): boolean {
    const until = this.until.get(asset);
    if (until === undefined) return false;
    if (now < until) return true;
    this.until.delete(asset);
    this.save();
    return false;
  }

  private save(): void {
    if (this.path !== undefined) replaceStateFile(this.path, Object.fromEntries(this.until));
  }
}
