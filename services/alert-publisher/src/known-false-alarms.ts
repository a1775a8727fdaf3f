/**
 * What an operator called a false alarm, remembered so the same thing does not alarm again: an
 * episode marked `false-positive` becomes a pattern (its asset, its leading sensor, its peak score).
 * A later alarm of that asset led by that sensor and no stronger is held back: recorded and
 * counted, not published. If it grows past the pattern's peak it is raised after all: a real fault
 * that starts like a known false alarm is not silenced. Patterns expire after 30 days and survive
 * restarts (a small JSON file beside the outbox, replaced by a rename).
 */
import { readStateFile, replaceStateFile } from './state-file.js';

export interface FalseAlarmPattern {
  asset: string;
  leader: string;
  peakScore: number;
  /** The episode the operator marked. */
  episode: string;
  untilMs: number;
}

export const FALSE_ALARM_MEMORY_MS = 30 * 86_400_000;
/** Patterns kept per asset: the newest win. */
const MAX_PATTERNS_PER_ASSET = 8;

export class KnownFalseAlarms {
  private patterns: FalseAlarmPattern[] = [];

  constructor(private readonly path: string) {
    const parsed = readStateFile(path) as FalseAlarmPattern[] | undefined;
    if (Array.isArray(parsed)) this.patterns = parsed.filter((pattern) => typeof pattern?.asset === 'string' && Number.isFinite(pattern.peakScore));
  }

  add(pattern: FalseAlarmPattern, now = Date.now()): void {
    this.patterns = this.patterns.filter((known) => known.untilMs > now && known.episode !== pattern.episode);
    this.patterns.push(pattern);
    const ofAsset = this.patterns.filter((known) => known.asset === pattern.asset);
    if (ofAsset.length > MAX_PATTERNS_PER_ASSET) {
      const oldest = ofAsset[0];
      this.patterns = this.patterns.filter((known) => known !== oldest);
    }
    this.save();
  }

  /** The pattern an alarm matches, if any: same asset, same leading sensor, no stronger. */
  match(asset: string, leader: string | undefined, score: number, now = Date.now()): FalseAlarmPattern | undefined {
    return this.patterns.find((known) => known.asset === asset && known.leader === leader && score <= known.peakScore && known.untilMs > now);
  }

  get size(): number {
    return this.patterns.length;
  }

  private save(): void {
    replaceStateFile(this.path, this.patterns);
  }
}
