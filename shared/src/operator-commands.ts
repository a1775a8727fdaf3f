/**
 * What operator commands have in common, whichever service carries them out: the alert-publisher
 * answers the alarm commands (ack, mute, unmute), the inference service the model commands
 * (relearn, rollback, pin, unpin). Both listen on `<prefix>/<device>/<asset>/command`, answer on
 * `…/command/result`, and keep an audit log on the device; each leaves the other's commands alone.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export const ALARM_COMMANDS = ['ack', 'mute', 'unmute', 'feedback'] as const;
/** An operator's verdict on an alarm episode (`feedback`). */
export const FEEDBACK_VERDICTS = ['false-positive', 'confirmed', 'new-normal'] as const;
export type FeedbackVerdict = (typeof FEEDBACK_VERDICTS)[number];
export const MODEL_COMMANDS = ['relearn', 'rollback', 'pin', 'unpin'] as const;
export type ModelCommandName = (typeof MODEL_COMMANDS)[number];

export const MAX_COMMAND_BYTES = 4 * 1024;
const MAX_AUDIT_BYTES = 1024 * 1024;

export interface CommandResult {
  id: string;
  command: string;
  asset: string;
  status: 'accepted' | 'refused';
  reason?: string;
  at: string;
}

/** The answer to a command: accepted, or refused with `reason`. */
export function commandResult(request: { id: string; command: string }, asset: string, reason: string | undefined, now = Date.now()): CommandResult {
  return {
    id: request.id,
    command: request.command,
    asset,
    status: reason === undefined ? 'accepted' : 'refused',
    ...(reason === undefined ? {} : { reason }),
    at: new Date(now).toISOString(),
  };
}

/** A string field of at most `max` characters, or undefined. */
export const commandText = (value: unknown, max: number): string | undefined => (typeof value === 'string' && value.length <= max ? value : undefined);

/** The device's record of every command and its answer: JSON lines, rotated at 1 MB (one old file). */
export class AuditLog {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(entry: Record<string, unknown>): void {
    try {
      if ((statSync(this.path, { throwIfNoEntry: false })?.size ?? 0) > MAX_AUDIT_BYTES) renameSync(this.path, `${this.path}.1`);
      appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
    } catch {
      // The answer on MQTT still goes out; a full disk is reported by the service's own checks.
    }
  }
}

/**
 * The asset a command on the device's own topic (`<prefix>/<device>/command`) is for: every asset.
 * No asset id is `*` (it is not one of the characters an id may hold).
 */
export const EVERY_ASSET = '*';
