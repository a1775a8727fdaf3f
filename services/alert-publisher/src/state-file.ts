/**
 * The publisher's small state files beside the outbox (operators' mutes, known false alarms):
 * read whole at start, replaced whole by a rename, so a power cut leaves the old file or the new
 * one, never half of one.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The file's JSON, or undefined when there is none yet or it is not JSON (torn, edited). */
export function readStateFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function replaceStateFile(path: string, value: unknown): void {
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify(value));
    renameSync(`${path}.tmp`, path);
  } catch {
    // Kept in memory; a disk that refuses writes is reported by the outbox's own check.
  }
}
