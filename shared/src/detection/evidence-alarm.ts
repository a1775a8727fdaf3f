/**
 * Alarms as events with a beginning and an end, decided from calibrated surprises (-log10 p per
 * sample) and defined in time, whatever the sample rate.
 *
 * Evidence is accumulated with a CUSUM (Page, 1954): C = max(0, C + surprise - reference). One
 * sample rarer than the target allows raises the alarm at once (a spike); a run of moderately
 * rare samples raises it after a few (a slow fault); ordinary samples drain it. The target is a
 * false-alarm rate a user can read: `falseAlarmsPerWeek`. With N samples a week, a sample as rare
 * as 1/N (surprise log10 N) is what one false alarm a week looks like: the decision level h is
 * log10(N / rate) and the reference half of it, so two samples each at that level, or one at 1.5x
 * it, alarm. The alarm ends once the evidence has been gone for `clearAfterMs`.
 */
export interface EvidenceAlarmSettings {
  falseAlarmsPerWeek: number;
  /** How long the evidence must stay at zero before an alarm ends. */
  clearAfterMs: number;
  /** Fewest samples of quiet that end an alarm, however slow the rate. */
  clearAfterSamples: number;
}

export const DEFAULT_EVIDENCE_ALARM_SETTINGS: EvidenceAlarmSettings = {
  falseAlarmsPerWeek: 1,
  clearAfterMs: 30_000,
  clearAfterSamples: 3,
};

const WEEK_MS = 7 * 24 * 3600 * 1000;

export interface EvidenceAlarmState {
  evidence: number;
  alarm: boolean;
  /** Samples since the evidence was last above zero (while alarmed). */
  quietSamples: number;
  quietSinceTs?: number;
  /** Samples judged so far (the stream's length, for how often its excursions recur). */
  seen?: number;
  /**
   * Excursions past the level that have ended, counted by their peak surprise in steps of
   * `PEAK_STEP` above the level (the last bin holds everything higher).
   */
  peaks?: number[];
  /** The excursion in progress, while samples stay past the level. */
  excursion?: Excursion;
}

interface Excursion {
  peak: number;
  /** Its length so far. */
  samples: number;
  /** The correlation time (1 / weight) of the statistic at its peak. */
  span: number;
}

function isExcursion(value: unknown): value is Excursion {
  const excursion = value as Record<string, unknown> | null;
  return (
    typeof excursion === 'object' &&
    excursion !== null &&
    Number.isFinite(excursion.peak) &&
    Number.isInteger(excursion.samples) &&
    (excursion.samples as number) >= 1 &&
    Number.isFinite(excursion.span) &&
    (excursion.span as number) >= 1
  );
}

/** Resolution of the excursion peaks' counts, in surprise (decades of rarity). */
const PEAK_STEP = 0.25;
const PEAK_BINS = 80;
/** Excursion peaks within this much surprise of a sample's are the same event recurring. */
const SAME_EVENT_DECADES = 1;

export function isEvidenceAlarmState(value: unknown): value is EvidenceAlarmState {
  const state = value as Record<string, unknown> | null;
  return (
    typeof state === 'object' &&
    state !== null &&
    Number.isFinite(state.evidence) &&
    (state.evidence as number) >= 0 &&
    typeof state.alarm === 'boolean' &&
    Number.isInteger(state.quietSamples) &&
    (state.quietSamples as number) >= 0 &&
    (state.quietSinceTs === undefined || Number.isFinite(state.quietSinceTs)) &&
    (state.seen === undefined || (Number.isInteger(state.seen) && (state.seen as number) >= 0)) &&
    (state.peaks === undefined ||
      (Array.isArray(state.peaks) && state.peaks.length === PEAK_BINS && state.peaks.every((count) => Number.isInteger(count) && count >= 0))) &&
    (state.excursion === undefined || isExcursion(state.excursion))
  );
}

export interface EvidenceDecision {
  alarm: boolean;
  /** True on the sample an alarm began (the detection event). */
  raised: boolean;
  /** True on the sample an alarm ended. */
  cleared: boolean;
  evidence: number;
  /** Evidence that raises an alarm. */
  level: number;
}

export class EvidenceAlarm {
  readonly level: number;
  readonly reference: number;

  constructor(
    private readonly settings: EvidenceAlarmSettings,
    samplePeriodMs: number,
    readonly state: EvidenceAlarmState = { evidence: 0, alarm: false, quietSamples: 0 },
  ) {
    const samplesPerWeek = WEEK_MS / Math.max(samplePeriodMs, 1);
    this.level = Math.max(1, Math.log10(samplesPerWeek / settings.falseAlarmsPerWeek));
    this.reference = this.level / 2;
  }

  /**
   * `weight`: the sample's share of an independent observation (1 for a statistic whose samples
   * are independent; 1 / its correlation time for a smoothed one). Evidence for an alarm is added
   * at that weight, so a run of correlated rare values counts once; evidence against is not.
   */
  decide(surprise: number, ts: number, weight = 1): EvidenceDecision {
    const s = this.state;
    const judged = this.recurrenceCapped(surprise);
    const share = Math.min(1, Math.max(weight, 1e-6));
    this.remember(surprise, share);
    s.evidence = Math.max(0, s.evidence + this.increment(judged, share));
    let raised = false;
    let cleared = false;
    if (!s.alarm) {
      if (s.evidence >= this.level) {
        s.alarm = true;
        raised = true;
        s.quietSamples = 0;
        s.quietSinceTs = undefined;
      }
    } else {
      // Capped while alarmed, so the end of a long fault drains in a few samples, not hours.
      s.evidence = Math.min(s.evidence, this.level);
      if (s.evidence > 0) {
        s.quietSamples = 0;
        s.quietSinceTs = undefined;
      } else {
        s.quietSamples += 1;
        s.quietSinceTs ??= ts;
        if (s.quietSamples >= this.settings.clearAfterSamples && ts - s.quietSinceTs >= this.settings.clearAfterMs) {
          s.alarm = false;
          cleared = true;
        }
      }
    }
    return { alarm: s.alarm, raised, cleared, evidence: s.evidence, level: this.level };
  }

  /**
   * Raises the alarm on evidence gathered elsewhere (a change the detector saw held for its settle
   * time): full evidence, as a sample at the alarm's level would give.
   */
  raise(): EvidenceDecision {
    const s = this.state;
    const raised = !s.alarm;
    s.evidence = this.level;
    s.alarm = true;
    s.quietSamples = 0;
    s.quietSinceTs = undefined;
    return { alarm: true, raised, cleared: false, evidence: s.evidence, level: this.level };
  }

  /**
   * Never rarer than the stream itself has shown. An excursion past the level that has already
   * happened k times in the n samples judged is, by the stream's own count, a 1-in-n/k event:
   * its surprise is at most log10(n / k). That is the learning period's cap carried on, with
   * excursions (not samples) counted, so a fault in progress is never capped by itself and a long
   * one counts once. The cap never goes below the level: a capped sample still adds half the
   * level's evidence, so a persisting fault raises after two samples (one sample later than
   * uncapped) and keeps its alarm; what it takes away is a single sample raising the alarm on its
   * own when the stream has shown such samples more often than the false-alarm rate allows.
   * "As high" is to within a decade (one unit of surprise): past the learned range a surprise is
   * the tail's extrapolation, not known to better than that, so a spike a hair above the last
   * one is the same event recurring, and only one ten times rarer is news.
   */
  private recurrenceCapped(surprise: number): number {
    const s = this.state;
    if (surprise <= this.level || s.excursion !== undefined || s.peaks === undefined || s.seen === undefined) return surprise;
    let recurred = 0;
    for (let bin = peakBin(surprise - SAME_EVENT_DECADES, this.level); bin < PEAK_BINS; bin += 1) recurred += s.peaks[bin] as number;
    if (recurred === 0) return surprise;
    return Math.min(surprise, Math.max(this.level, Math.log10(s.seen / recurred)));
  }

  /**
   * Counts the sample, and an isolated excursion past the level when it ends: one no longer than
   * its statistic's correlation time, the kind only the single-sample bound can raise. A long
   * excursion (a fault that persisted) says nothing of how often isolated ones recur.
   */
  private remember(surprise: number, weight: number): void {
    const s = this.state;
    s.seen = (s.seen ?? 0) + 1;
    const excursion = s.excursion;
    if (surprise > this.level) {
      if (excursion === undefined) s.excursion = { peak: surprise, samples: 1, span: 1 / weight };
      else {
        excursion.samples += 1;
        if (surprise > excursion.peak) Object.assign(excursion, { peak: surprise, span: 1 / weight });
      }
      return;
    }
    if (excursion === undefined) return;
    if (excursion.samples <= excursion.span) {
      s.peaks ??= new Array<number>(PEAK_BINS).fill(0);
      const bin = peakBin(excursion.peak, this.level);
      s.peaks[bin] = (s.peaks[bin] as number) + 1;
    }
    s.excursion = undefined;
  }

  /**
   * The evidence one sample adds. A statistic whose values are independent every 1 / weight
   * samples gives that many fewer looks a week, so its own level and reference are lower by
   * log10(1 / weight); its excess over its reference is spread over the samples of one look, and
   * scaled to the shared level. With weight 1 this is plain surprise - reference.
   */
  private increment(surprise: number, weight: number): number {
    const plain = surprise - this.reference;
    if (weight >= 1) return plain;
    // One sample rare enough to raise the alarm on its own as an independent one (1.5x the level)
    // raises it whatever its statistic's correlation. The weighting stops a run of moderately rare
    // correlated values from being counted once per sample; it must not make a single extreme
    // value count less than an independent one: a run shorter than its statistic's correlation
    // time (a spike through a smoothed level) then never raised, at surprises of 7 against 3.3.
    // The bound is per sample, so at most 10^(-1.5 level) of samples cross it: far fewer than the
    // rate, however correlated they are.
    if (plain >= this.level) return plain;
    const level = Math.max(1, this.level + Math.log10(weight));
    const excess = surprise - level / 2;
    return excess > 0 ? (excess * weight * this.level) / level : plain;
  }
}

function peakBin(surprise: number, level: number): number {
  return Math.min(PEAK_BINS - 1, Math.max(0, Math.floor((surprise - level) / PEAK_STEP)));
}
