/**
 * When a decision becomes an alert, and when an alarm episode ends. Cooldown runs on sensor time
 * (ts), so a replay at 20x speed behaves like the real thing.
 */
import { isoTime, type DecisionMessage } from '@vigil/shared/runtime';
import { topContributors } from '@vigil/shared/model';
import type { Alert } from './outbox.js';

/** Before this instant the clock has not been set: a Pi without RTC boots in the past until NTP. */
const EARLIEST_PLAUSIBLE_TIME_MS = Date.UTC(2025, 0, 1);

export function isClockPlausible(ts: number): boolean {
  return ts >= EARLIEST_PLAUSIBLE_TIME_MS;
}

export interface AlertPolicySettings {
  device: string;
  cooldownMs: number;
  criticalRatio: number;
}

export type AlertVerdict =
  | { kind: 'none' }
  /** A re-entry of the open episode within the cooldown: counted on the episode, no new alert. */
  | { kind: 'suppressed'; episode: string }
  /**
   * A new episode: the alert. `missedChange`: the decision that marked the change was lost, and
   * the change was read from a later one.
   */
  | { kind: 'alert'; alert: Alert; missedChange?: boolean }
  /** The episode's anomaly ended: its summary (duration, peak, contributors over the episode). */
  | { kind: 'cleared'; alert: Alert; missedChange?: boolean };

/** One alarm episode of an asset, from its raise until the cooldown after its last clear. */
interface Episode {
  raised: Alert;
  /** Sensor time of the raise: the cooldown runs from it. */
  lastEntryTs: number;
  startTs: number;
  open: boolean;
  peakScore: number;
  contributionSums: Map<string, number>;
  anomalousSamples: number;
  reentries: number;
  clears: number;
}

/**
 * Decisions into alarm episodes. Entering the anomalous state raises an alert and opens an
 * episode; leaving it clears the episode (a summary goes out); entering again within the cooldown
 * with the same leading sensor re-enters the same episode (counted, no new alert: a fault that
 * flaps raises one alert), while a different leading sensor is a different fault and a new
 * episode, alerted even inside the cooldown.
 */
export class AlertPolicy {
  private readonly episodes = new Map<string, Episode>();
  /** The state of each asset's last decision, as this publisher saw it. */
  private readonly lastState = new Map<string, DecisionMessage['state']>();

  constructor(private readonly settings: AlertPolicySettings) {}

  /** The raise of the asset's current (or last) episode, if its id is `episode`. */
  episodeOf(asset: string, episode: string): Alert | undefined {
    const current = this.episodes.get(asset);
    return current?.raised.id === episode ? current.raised : undefined;
  }

  /** The highest score of the asset's current (or last) episode so far, if its id is `episode`. */
  peakOf(asset: string, episode: string): number | undefined {
    const current = this.episodes.get(asset);
    return current?.raised.id === episode ? current.peakScore : undefined;
  }

  /** The state of the asset's last decision judged, if it was heard of. */
  lastStateOf(asset: string): DecisionMessage['state'] | undefined {
    return this.lastState.get(asset);
  }

  /** Drops an asset's episode (it gave up its place in the publisher's tables). */
  forget(asset: string): void {
    this.episodes.delete(asset);
    this.lastState.delete(asset);
  }

  judge(decision: DecisionMessage): AlertVerdict {
    const episode = this.episodes.get(decision.asset);
    const previous = this.lastState.get(decision.asset);
    this.lastState.set(decision.asset, decision.state);
    // The threshold marks a change of state on one decision only. Should that one be lost on the
    // way (a link cut with it in flight: counted lost by seq), the next decision still carries the
    // new state, and the state this publisher saw last tells the change: one lost message must not
    // lose the alarm, nor leave an episode open for ever. Unknown (an asset first heard of, as after
    // a restart) is no change: its raise, if any, went out before, from the outbox.
    const missedChange = !decision.changed && previous !== undefined && previous !== decision.state;
    if (decision.state === 'anomalous' && episode?.open) this.accumulate(episode, decision);
    if (!decision.changed && !missedChange) return { kind: 'none' };
    const verdict = decision.state === 'anomalous' ? this.enter(decision, episode) : episode?.open ? this.clear(decision, episode) : { kind: 'none' as const };
    return missedChange && (verdict.kind === 'alert' || verdict.kind === 'cleared') ? { ...verdict, missedChange } : verdict;
  }

  private enter(decision: DecisionMessage, episode: Episode | undefined): AlertVerdict {
    const leader = topContributors(decision.contributions, 1)[0]?.sensor;
    if (
      episode &&
      decision.ts >= episode.lastEntryTs &&
      decision.ts - episode.lastEntryTs < this.settings.cooldownMs &&
      leader === episode.raised.contributors[0]?.sensor
    ) {
      episode.reentries += 1;
      episode.open = true;
      this.accumulate(episode, decision);
      return { kind: 'suppressed', episode: episode.raised.id };
    }
    const ratio = decision.threshold.high > 0 ? decision.score / decision.threshold.high : Number.POSITIVE_INFINITY;
    const id = `${this.settings.device}:${decision.asset}:${decision.seq}`;
    const raised: Alert = {
      id,
      event: 'raised',
      episode: id,
      device: this.settings.device,
      asset: decision.asset,
      seq: decision.seq,
      ts: decision.ts,
      // Never throws: the envelope check keeps ts inside the date range, and isoTime would not throw anyway.
      time: isoTime(decision.ts) ?? '',
      clockSynced: isClockPlausible(decision.ts),
      severity: ratio >= this.settings.criticalRatio ? 'critical' : 'warning',
      score: decision.score,
      threshold: decision.threshold.high,
      contributors: topContributors(decision.contributions, 3),
      model: decision.model,
      reentries: 0,
    };
    const fresh: Episode = {
      raised,
      lastEntryTs: decision.ts,
      startTs: decision.ts,
      open: true,
      peakScore: 0,
      contributionSums: new Map(),
      anomalousSamples: 0,
      reentries: 0,
      clears: 0,
    };
    this.accumulate(fresh, decision);
    this.episodes.set(decision.asset, fresh);
    return { kind: 'alert', alert: raised };
  }

  private clear(decision: DecisionMessage, episode: Episode): AlertVerdict {
    episode.open = false;
    episode.clears += 1;
    const means: Record<string, number> = {};
    for (const [sensor, sum] of episode.contributionSums) means[sensor] = sum / Math.max(1, episode.anomalousSamples);
    return {
      kind: 'cleared',
      alert: {
        ...episode.raised,
        id: `${episode.raised.episode}:cleared:${episode.clears}`,
        event: 'cleared',
        seq: decision.seq,
        ts: decision.ts,
        time: isoTime(decision.ts) ?? '',
        clockSynced: isClockPlausible(decision.ts),
        score: episode.peakScore,
        contributors: topContributors(means, 3),
        reentries: episode.reentries,
        durationS: Math.max(0, (decision.ts - episode.startTs) / 1000),
        now: decision.state === 'changed' ? 'changed' : 'normal',
      },
    };
  }

  private accumulate(episode: Episode, decision: DecisionMessage): void {
    episode.peakScore = Math.max(episode.peakScore, decision.score);
    episode.anomalousSamples += 1;
    for (const [sensor, share] of Object.entries(decision.contributions)) {
      episode.contributionSums.set(sensor, (episode.contributionSums.get(sensor) ?? 0) + share);
    }
  }
}

/**
 * The alert of an anomalous decision whose handling threw: only the decision's own fields, none
 * derived (no contributors, no severity from ratios), so that building it cannot fail the same
 * way. An alarm is published plainly rather than lost.
 */
export function rescuedAlert(decision: DecisionMessage, device: string): Alert {
  const id = `${device}:${decision.asset}:${decision.seq}`;
  return {
    id,
    event: 'raised',
    episode: id,
    reentries: 0,
    device,
    asset: decision.asset,
    seq: decision.seq,
    ts: decision.ts,
    time: isoTime(decision.ts) ?? '',
    clockSynced: isClockPlausible(decision.ts),
    severity: 'critical',
    score: Number.isFinite(decision.score) ? decision.score : 0,
    threshold: Number.isFinite(decision.threshold?.high) ? decision.threshold.high : 0,
    contributors: [],
    model: { name: String(decision.model?.name ?? ''), version: String(decision.model?.version ?? '') },
  };
}
