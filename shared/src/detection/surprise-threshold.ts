/**
 * The threshold for calibrated scores (a model's surprise, -log10 p, as the default detector
 * gives): no warm-up of its own, since the model was calibrated on its learning period, and no
 * marks learned from the scores. The alarm is the evidence alarm's, set from a false-alarm rate.
 * Same decide() as AdaptiveThreshold, so the threshold service runs either per asset.
 */
import type { AssetState } from '../messages.js';
import { EvidenceAlarm, isEvidenceAlarmState, type EvidenceAlarmSettings, type EvidenceAlarmState } from './evidence-alarm.js';
import type { ThresholdDecision } from './adaptive-threshold.js';
import type { DetectorScore } from './auto-detector.js';

export interface SurpriseThresholdState {
  mode: 'surprise';
  state: AssetState;
  since: number;
  samplePeriodMs: number;
  alarm: EvidenceAlarmState;
  /** The model (name@version) whose surprises these are. */
  model?: string;
}

export function initialSurpriseThresholdState(ts: number, samplePeriodMs: number): SurpriseThresholdState {
  return { mode: 'surprise', state: 'warmup', since: ts, samplePeriodMs, alarm: { evidence: 0, alarm: false, quietSamples: 0 } };
}

export function isSurpriseThresholdState(value: unknown): value is SurpriseThresholdState {
  const state = value as Record<string, unknown> | null;
  return (
    typeof state === 'object' &&
    state !== null &&
    state.mode === 'surprise' &&
    (state.state === 'warmup' || state.state === 'normal' || state.state === 'anomalous' || state.state === 'changed') &&
    Number.isFinite(state.since) &&
    Number.isFinite(state.samplePeriodMs) &&
    (state.samplePeriodMs as number) > 0 &&
    isEvidenceAlarmState(state.alarm) &&
    (state.model === undefined || typeof state.model === 'string')
  );
}

/** What the detector says of its baseline with each score (ScoreMessage.calibrated's fields). */
export interface LevelNews {
  changedLevel?: boolean;
  newLevel?: boolean;
  /** While it judges from a new level: the sample judged from the learned baseline alone. */
  homeSurprise?: number;
  homeWeight?: number;
}

export const LEARNED_LEVEL: LevelNews = {};

/**
 * What a detector score says of its baseline, as the threshold and the score message take it:
 * only the fields that say something (a sample judged from the learned baseline carries none).
 */
export function levelNewsOf(score: Pick<DetectorScore, 'baseline' | 'newLevel' | 'home'>): LevelNews {
  return {
    ...(score.baseline === 'changed' ? { changedLevel: true } : {}),
    ...(score.newLevel ? { newLevel: true } : {}),
    ...(score.home ? { homeSurprise: score.home.surprise, homeWeight: score.home.weight } : {}),
  };
}

export class SurpriseThreshold {
  private readonly alarm: EvidenceAlarm;

  constructor(
    settings: EvidenceAlarmSettings,
    readonly state: SurpriseThresholdState,
  ) {
    this.alarm = new EvidenceAlarm(settings, state.samplePeriodMs, state.alarm);
  }

  /**
   * `weight`: the sample's share of an independent observation (the detector's, with its score);
   * `level`: whether the detector judges against a settled new level (then, out of alarm, the
   * asset reads `changed`, not normal), and whether it took one on this sample.
   */
  decide(surprise: number, ts: number, scored: boolean, weight = 1, level: LevelNews = LEARNED_LEVEL): ThresholdDecision {
    const s = this.state;
    const previous = s.state;
    if (scored) {
      // A new level is reached through an alarm only. An asset read as normal is judged from the
      // learned baseline whatever level the detector holds in mind; in or after an alarm, from
      // that level (so the alarm of a settled change ends, into `changed`, and the next change
      // alarms anew). A level held unmistakably off (every sample of it) is a change the alarm
      // reports even if the evidence had not risen on the way (a slow move).
      const fromLevel = s.state === 'anomalous' || s.state === 'changed';
      const judged = !fromLevel && level.homeSurprise !== undefined ? { surprise: level.homeSurprise, weight: level.homeWeight ?? 1 } : { surprise, weight };
      const decision = level.newLevel === true && !fromLevel ? this.alarm.raise() : this.alarm.decide(judged.surprise, ts, judged.weight);
      const next: AssetState = decision.alarm ? 'anomalous' : fromLevel && level.changedLevel === true ? 'changed' : 'normal';
      if (next !== s.state) {
        s.state = next;
        s.since = ts;
      }
    }
    return { state: s.state, changed: s.state !== previous, since: s.since, high: this.alarm.level, low: this.alarm.reference };
  }
}
