/**
 * Shadow before promote: a newly learned or delivered model scores beside the model in service, on
 * the same live samples, for a set time; each one's scores go through an alarm as the threshold
 * service would set it (the same false-alarm rate), and the newcomer is promoted only if it raised
 * no more alarms than the model in service. Both must give calibrated scores (the default detector):
 * an autoencoder's alarm marks are learned by the threshold service from its scores, and there is
 * nothing to compare them with here, so it is put into service directly, as before.
 */
import { initialSurpriseThresholdState, SurpriseThreshold, type EvidenceAlarmSettings, type LevelNews } from '@vigil/shared/detection';
import type { AnomalyScorer, LoadedBundle } from '@vigil/shared/model';

/** Assets compared; past it, new names are scored by the model in service only. */
const MAX_SHADOW_ASSETS = 64;

interface Scored {
  score: number;
  weight?: number;
  level?: LevelNews;
}

export interface ShadowReport {
  version: string;
  since: string;
  samples: number;
  alarms: { inService: number; candidate: number };
}

export class Shadow {
  readonly startedAt = Date.now();
  samples = 0;
  inServiceAlarms = 0;
  candidateAlarms = 0;
  private readonly pairs = new Map<string, { inService: SurpriseThreshold; candidate: SurpriseThreshold }>();

  constructor(
    readonly bundle: LoadedBundle,
    private readonly scorer: AnomalyScorer,
    private readonly samplePeriodMs: number,
    private readonly alarm: EvidenceAlarmSettings,
    private readonly durationMs: number,
  ) {}

  /** The candidate scores the sample the model in service scored as `inService`. */
  observe(asset: string, ts: number, features: ArrayLike<number>, inService: Scored): void {
    let pair = this.pairs.get(asset);
    if (!pair) {
      if (this.pairs.size >= MAX_SHADOW_ASSETS) return;
      pair = {
        inService: new SurpriseThreshold(this.alarm, initialSurpriseThresholdState(ts, this.samplePeriodMs)),
        candidate: new SurpriseThreshold(this.alarm, initialSurpriseThresholdState(ts, this.samplePeriodMs)),
      };
      this.pairs.set(asset, pair);
    }
    const candidate = this.scorer.score(features, asset);
    if (raised(pair.inService.decide(inService.score, ts, true, inService.weight, inService.level))) this.inServiceAlarms += 1;
    if (raised(pair.candidate.decide(candidate.score, ts, true, candidate.weight, candidate.level))) this.candidateAlarms += 1;
    this.samples += 1;
  }

  get due(): boolean {
    return Date.now() - this.startedAt >= this.durationMs;
  }

  verdict(): { promote: boolean; reason: string } {
    const counts = `${this.candidateAlarms} alarm(s) where the model in service raised ${this.inServiceAlarms}, over ${this.samples} samples`;
    return this.candidateAlarms <= this.inServiceAlarms ? { promote: true, reason: `promoted: ${counts}` } : { promote: false, reason: `kept as a candidate: ${counts}` };
  }

  report(): ShadowReport {
    return { version: this.bundle.manifest.version, since: new Date(this.startedAt).toISOString(), samples: this.samples, alarms: { inService: this.inServiceAlarms, candidate: this.candidateAlarms } };
  }
}

function raised(decision: { state: string; changed: boolean }): boolean {
  return decision.changed && decision.state === 'anomalous';
}
