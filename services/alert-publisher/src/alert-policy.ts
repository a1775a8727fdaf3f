/**
 * When a decision becomes an alert: on entering the anomalous state, unless the asset alerted
 * within the cooldown (a fault that flaps in and out raises one alert, not one per flap).
 * Cooldown runs on sensor time (ts), so a replay at 20x speed behaves like the real thing.
 */
import { isoTime, topContributors, type DecisionMessage } from '@vigil/shared';
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

export type AlertVerdict = { kind: 'none' } | { kind: 'suppressed' } | { kind: 'alert'; alert: Alert };

export class AlertPolicy {
  private readonly lastAlertTs = new Map<string, number>();

  constructor(private readonly settings: AlertPolicySettings) {}

  /** Drops an asset's cooldown (it gave up its place in the publisher's tables). */
  forget(asset: string): void {
    this.lastAlertTs.delete(asset);
  }

  judge(decision: DecisionMessage): AlertVerdict {
    if (!decision.changed || decision.state !== 'anomalous') return { kind: 'none' };
    const last = this.lastAlertTs.get(decision.asset);
    if (last !== undefined && decision.ts - last < this.settings.cooldownMs && decision.ts >= last) {
      return { kind: 'suppressed' };
    }
    this.lastAlertTs.set(decision.asset, decision.ts);
    const ratio = decision.threshold.high > 0 ? decision.score / decision.threshold.high : Number.POSITIVE_INFINITY;
    return {
      kind: 'alert',
      alert: {
        id: `${this.settings.device}:${decision.asset}:${decision.seq}`,
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
      },
    };
  }
}

/**
 * The alert of an anomalous decision whose handling threw: only the decision's own fields, none
 * derived (no contributors, no severity from ratios), so that building it cannot fail the same
 * way. An alarm is published plainly rather than lost.
 */
export function rescuedAlert(decision: DecisionMessage, device: string): Alert {
  return {
    id: `${device}:${decision.asset}:${decision.seq}`,
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
