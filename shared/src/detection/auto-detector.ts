/**
 * The default detector: built from the learning period alone, with no settings, for any number of
 * channels and any sample rate. Nothing in it is trained by gradient descent, so the same data
 * gives the same model whatever the seed, and it learns 3,000 samples in milliseconds on a Pi.
 *
 * What it looks at is chosen from what the learning period shows:
 * - level: where the channels are, robustly standardised (median, MAD). With two or more channels
 *   a principal component model of their joint behaviour: T² (how far along the learned directions)
 *   and the residual (SPE: how far off them, a broken correlation); with one, the squared z-score.
 *   A channel whose level trended through the learning period (a loop warming up) is left out of
 *   the level model, by that measurement and never by name: its level now says nothing about health.
 * - jump: how far each channel moved from its recent course (an EWMA), against the moves seen while
 *   learning. Sudden steps and spikes, in range or not, and in drifting channels too.
 * - cycle: where the learning period holds two or more cycles of a clear period (daily load, a
 *   batch), how far each channel is from where it was one period ago.
 * - a new level: a level held off the baseline, steady, for a tenth of the learning period is taken
 *   as a baseline of its own (the asset reads `changed`, never normal), so that a harmless new
 *   level gives one alarm and not an endless one, and the next change is seen as one.
 * Each statistic is calibrated against the learning period (tail-calibration.ts): its surprise,
 * -log10 of how rare it is. The sample's surprise is the largest, less log10 of how many were
 * looked at (a Bonferroni bound: looking at more things must not make alarms more likely).
 */
import { median, robustScale, symmetricEigen } from './linear-algebra.js';
import { fitTail, isTailCalibration, surpriseOf, type TailCalibration } from './tail-calibration.js';

export const AUTO_DETECTOR_KIND = 'auto-detector';

export type DetectorComponent = 'level' | 'spe' | 't2' | 'shift' | 'shift-spe' | 'shift-t2' | 'jump' | 'cycle';

export interface AutoDetectorModel {
  kind: typeof AUTO_DETECTOR_KIND;
  channels: string[];
  /** Median time between learned samples, ms. */
  samplePeriodMs: number;
  center: number[];
  scale: number[];
  /** Channels whose level trended while learning: judged by jumps and cycles only. */
  drifting: boolean[];
  /** Principal directions over the level channels' z-scores (unit rows) and their variances. */
  principal?: { components: number[][]; variances: number[] };
  /** EWMA weight of the course a jump is measured from. */
  courseAlpha: number;
  jumpScale: number[];
  /** Samples per cycle, where the learning period showed one. */
  period?: number;
  cycleScale?: number[];
  calibration: Partial<Record<DetectorComponent, TailCalibration>>;
  /** Samples learned from. */
  learnedSamples: number;
}

/**
 * What a stream remembers of an asset that a restart must not lose, small enough to write every
 * few seconds: the course and smoothed level (so a fault under way is not taken for where the
 * machine starts from), the learned baseline as followed since, and a settled new level. The
 * cycle's memory (a period of samples) is left out: it would be a period of samples per asset in
 * Redis, and it refills in one period, during which the cycle is not judged.
 */
export interface DetectorMemory {
  /** Samples scored since the stream began. */
  seen: number;
  course: number[];
  smooth: number[];
  home: number[];
  changed?: { level: number[]; sampleScale: number[]; smoothScale: number[] };
  homeCount: number;
}

/** `d` finite numbers (each above 0 if `positive`): a per-channel vector read back from JSON. */
function isVector(value: unknown, d: number, positive: boolean): boolean {
  return Array.isArray(value) && value.length === d && value.every((x) => Number.isFinite(x) && (!positive || (x as number) > 0));
}

export function isDetectorMemory(value: unknown, model: AutoDetectorModel): value is DetectorMemory {
  const memory = value as Record<string, unknown> | null;
  if (typeof memory !== 'object' || memory === null) return false;
  const vector = (v: unknown, positive = false) => isVector(v, model.channels.length, positive);
  const changed = memory.changed as Record<string, unknown> | undefined;
  return (
    Number.isInteger(memory.seen) &&
    (memory.seen as number) >= 0 &&
    Number.isInteger(memory.homeCount) &&
    (memory.homeCount as number) >= 0 &&
    vector(memory.course) &&
    vector(memory.smooth) &&
    vector(memory.home) &&
    (changed === undefined || (typeof changed === 'object' && changed !== null && vector(changed.level) && vector(changed.sampleScale, true) && vector(changed.smoothScale, true)))
  );
}

export interface DetectorScore {
  /** Calibrated: -log10 of the chance of data this unusual on the learned normal, corrected for the looks taken. */
  surprise: number;
  /** The component that gave the surprise. */
  component: DetectorComponent | 'none';
  /** Each channel's share of that component's statistic; sums to 1 (or all 0). */
  contributions: Record<string, number>;
  /**
   * How much independent evidence this sample carries: 1 / the samples per independent value of
   * the statistic that gave the surprise (a smoothed statistic's rare values come in runs, and a
   * run is one observation, not one per sample).
   */
  weight: number;
  /**
   * Which baseline the levels were judged from: the learned one (following benign drift), or a
   * settled new level the machine moved to and held (`changed`: not normal, not a fresh alarm).
   */
  baseline: 'learned' | 'changed';
  /**
   * True on the sample the detector took a held new level for its baseline when every sample of
   * it was off: a change, an event (the alarm reports it if it had not risen on the way).
   */
  newLevel: boolean;
  /**
   * While the levels are judged from a new level: the sample judged from the learned baseline
   * alone (surprise and weight as above). An asset the alarm reads as normal is judged by this:
   * a new level is only ever reached through an alarm, never slipped into.
   */
  home?: { surprise: number; weight: number };
}

/** Fewest samples a model is built from: below it, tails and spreads are guesses. */
export const MIN_LEARNING_SAMPLES = 60;
/** A level that trended this much (share of its variance explained by a straight line) is drifting. */
const DRIFT_R2 = 0.5;
/** Share of a level's variance between its quarters' means past which it wanders: most walks, few levels that hold. */
const WANDER_SHARE = 0.3;
/** Principal components kept: enough for this share of the level channels' variance. */
const EXPLAINED_VARIANCE = 0.9;
/** The course a jump is measured from remembers about 1 / alpha samples. */
const COURSE_ALPHA = 0.3;
const SHIFT_ALPHA = 0.1;
/** A sample whose every statistic is inside the body of what was learned (surprise below the tails, -log10 0.1). */
const BODY_SURPRISE = 1;
/** A cycle counts when the series one period apart correlates at least this well. */
const MIN_CYCLE_CORRELATION = 0.6;
const MIN_PERIOD = 8;
/**
 * A level held off the baseline this long (a share of the learning period, never fewer than
 * MIN_SETTLE_SAMPLES) and steady while held is a settled new level: judged from then on against
 * itself, so that what happens next at the new level is seen, and the asset reads `changed`.
 */
const SETTLE_SHARE = 0.1;
const MIN_SETTLE_SAMPLES = 20;
/**
 * Off the baseline, to be held: the sample or the smoothed level rarer than one in a hundred of
 * the learning period. A new baseline is a model update the asset still reads as `changed`; it
 * raises an alarm by itself only when every held sample was rarer than anything learned.
 */
const OFF_BASELINE_SURPRISE = 2;
/** Steady: the held level moved less than one spread (the learned one, or its own if wider) between its halves. */
const SETTLED_MOVE = 1;
const LEVEL_COMPONENTS: ReadonlySet<DetectorComponent> = new Set(['level', 't2', 'spe', 'shift', 'shift-t2', 'shift-spe']);
const SAMPLE_LEVEL_COMPONENTS: ReadonlySet<DetectorComponent> = new Set(['level', 't2', 'spe']);

export function learnAutoDetector(channels: readonly string[], rows: readonly (readonly number[])[], timestamps: readonly number[]): AutoDetectorModel {
  const d = channels.length;
  const n = rows.length;
  if (d === 0) throw new Error('the detector needs at least one channel');
  if (n < MIN_LEARNING_SAMPLES) throw new Error(`the detector needs at least ${MIN_LEARNING_SAMPLES} learning samples, got ${n}`);
  const column = (c: number) => rows.map((row) => row[c] as number);
  const center: number[] = [];
  const scale: number[] = [];
  const drifting: boolean[] = [];
  for (let c = 0; c < d; c += 1) {
    const values = column(c);
    center.push(median(values));
    scale.push(spreadOf(values));
    drifting.push(trendShare(values) > DRIFT_R2 || wanders(values));
  }
  const z = rows.map((row) => row.map((value, c) => ((value as number) - (center[c] as number)) / (scale[c] as number)));
  const levelChannels = levelChannelsOf(drifting);
  const principal = levelChannels.length >= 2 ? principalModel(z, levelChannels) : undefined;
  const period = periodOf(z);

  const model: AutoDetectorModel = {
    kind: AUTO_DETECTOR_KIND,
    channels: [...channels],
    samplePeriodMs: samplePeriodOf(timestamps),
    center,
    scale,
    drifting,
    ...(principal ? { principal } : {}),
    courseAlpha: COURSE_ALPHA,
    jumpScale: new Array<number>(d).fill(1),
    ...(period ? { period, cycleScale: new Array<number>(d).fill(1) } : {}),
    calibration: {},
    learnedSamples: n,
  };
  // Spreads of the moves, then the tails of every statistic, from the learning period streamed
  // through the very code that will score in service.
  const raw = rawStatistics(model, rows);
  model.jumpScale = channelsSpread(raw.jumpResiduals, d);
  if (period) model.cycleScale = channelsSpread(raw.cycleResiduals, d);
  const stats = rawStatistics(model, rows).stats;
  for (const component of Object.keys(stats) as DetectorComponent[]) {
    const values = stats[component] ?? [];
    if (values.length >= 10) model.calibration[component] = fitTail(values);
  }
  return model;
}

/**
 * Scores samples one at a time, in order; the course, the shift, the cycle's memory and the
 * baselines are its state. It is all kept in the channels' own units, so that what the levels
 * are judged from can move (drift followed, a settled new level) without touching the rest.
 */
export class AutoDetectorStream {
  private readonly course: Float64Array;
  private readonly history: Float64Array[];
  private seen = 0;
  /** The sample count the cycle's memory began at: a resumed stream refills it before judging by it. */
  private cycleFrom = 0;
  private readonly z: Float64Array;
  private readonly smooth: Float64Array;
  private readonly smoothZ: Float64Array;
  private readonly correction: number;
  /** The learned baseline, following normal operation slowly. */
  private readonly home: Float64Array;
  /** A settled new level the machine moved to and held, while it is there or nearer to it than home. */
  private changed: Float64Array | undefined;
  /**
   * The spreads a sample and the smoothed level are judged with at the new level: its own spread
   * (never below the learned: a new regime may be noisier), widened by how well the settle time's
   * samples tell where it is (the smoothed level is precise enough to see that error).
   */
  private changedScale: { sample: Float64Array; smooth: Float64Array } | undefined;
  private readonly judgedScale: Float64Array;
  private readonly smoothJudgedScale: Float64Array;
  /** Where the sample in hand and the smoothed level are judged from: home, the new level, or the way between them. */
  private readonly judgedFrom: Float64Array;
  private readonly smoothJudgedFrom: Float64Array;
  /** Whether the smoothed level is nearer home than the new level (always, with no new level). */
  private nearHome = true;
  /** The channels the level model reads (those that did not wander while learning). */
  private readonly levelChannels: number[];
  /** The last samples off the baseline, in order (a ring), to tell a settled new level. */
  private readonly held: Float64Array[];
  private heldCount = 0;
  private sampleHeldCount = 0;
  /** The sample's level statistics judged from home, while a new level is held. */
  private homeStats: Array<[DetectorComponent, number, Float64Array]> | undefined;
  /** Samples in a row back at the learned baseline since a change: the change is over once they last the settle time. */
  private homeCount = 0;
  readonly settleSamples: number;

  constructor(
    private readonly model: AutoDetectorModel,
    /** Where a restarted service left off (isDetectorMemory checked); a new stream without. */
    memory?: DetectorMemory,
  ) {
    const d = model.channels.length;
    this.home = Float64Array.from(model.center);
    this.judgedFrom = Float64Array.from(model.center);
    this.smoothJudgedFrom = Float64Array.from(model.center);
    this.judgedScale = Float64Array.from(model.scale);
    this.smoothJudgedScale = Float64Array.from(model.scale);
    this.levelChannels = levelChannelsOf(model.drifting);
    this.course = new Float64Array(d);
    this.history = model.period ? Array.from({ length: model.period }, () => new Float64Array(d)) : [];
    this.z = new Float64Array(d);
    this.smooth = new Float64Array(d);
    this.smoothZ = new Float64Array(d);
    this.correction = Math.log10(Math.max(1, Object.keys(model.calibration).length));
    this.settleSamples = Math.max(MIN_SETTLE_SAMPLES, Math.round(SETTLE_SHARE * model.learnedSamples));
    this.held = Array.from({ length: this.settleSamples }, () => new Float64Array(d));
    if (memory) this.resume(memory);
  }

  private resume(memory: DetectorMemory): void {
    this.seen = memory.seen;
    this.cycleFrom = memory.seen;
    this.home.set(memory.home);
    this.course.set(memory.course);
    this.smooth.set(memory.smooth);
    this.homeCount = memory.homeCount;
    if (memory.changed) {
      this.changed = Float64Array.from(memory.changed.level);
      this.changedScale = { sample: Float64Array.from(memory.changed.sampleScale), smooth: Float64Array.from(memory.changed.smoothScale) };
    }
    // The samples held off the baseline are not kept: a level being held starts its settle time again.
  }

  /** What a restart must not lose (DetectorMemory), as plain JSON. */
  memory(): DetectorMemory {
    const { changed, changedScale } = this;
    return {
      seen: this.seen,
      course: Array.from(this.course),
      smooth: Array.from(this.smooth),
      home: Array.from(this.home),
      ...(changed && changedScale ? { changed: { level: Array.from(changed), sampleScale: Array.from(changedScale.sample), smoothScale: Array.from(changedScale.smooth) } } : {}),
      homeCount: this.homeCount,
    };
  }

  /** Whether the levels are judged from a settled new level (the asset reads `changed`). */
  get atNewLevel(): boolean {
    return this.changed !== undefined;
  }

  score(values: ArrayLike<number>): DetectorScore {
    let component: DetectorComponent | 'none' = 'none';
    let terms: Float64Array | undefined;
    let weight = 1;
    let bestSurprise = 0;
    let levelSurprise = 0;
    let sampleLevelSurprise = 0;
    const scored: Array<[DetectorComponent, number, Float64Array]> = [];
    for (const [candidate, value, candidateTerms] of this.statistics(values)) {
      const calibration = this.model.calibration[candidate];
      if (!calibration) continue;
      const surprise = surpriseOf(calibration, value);
      if (LEVEL_COMPONENTS.has(candidate)) levelSurprise = Math.max(levelSurprise, surprise);
      if (SAMPLE_LEVEL_COMPONENTS.has(candidate)) sampleLevelSurprise = Math.max(sampleLevelSurprise, surprise);
      scored.push([candidate, surprise, candidateTerms]);
    }
    // With a new level, a jump that lands on the way between it and home (an ordinary level there)
    // is the machine moving between states it has been seen to hold: not a new anomaly.
    const alongTheWay = this.changed !== undefined && sampleLevelSurprise < BODY_SURPRISE;
    for (const [candidate, surprise, candidateTerms] of scored) {
      if (candidate === 'jump' && alongTheWay) continue;
      const calibration = this.model.calibration[candidate] as TailCalibration;
      if (surprise > bestSurprise) {
        bestSurprise = surprise;
        component = candidate;
        terms = candidateTerms;
        weight = 1 / calibration.correlation;
      }
    }
    const home = this.homeStats ? this.judgedFromHome(scored, this.homeStats) : undefined;
    if (bestSurprise < BODY_SURPRISE) this.follow(values);
    // Taken on a held level, reported as a change (an alarm, if none was raised on the way) only
    // when every sample of it, not only the smoothed level, was rarer than the learning period showed.
    const newLevel = this.watchLevel(values, levelSurprise, sampleLevelSurprise);
    // Rarer than anything the learning period showed: not a day the cycle should be judged against.
    this.advance(bestSurprise < Math.log10(this.model.learnedSamples), values);
    return {
      surprise: Math.max(0, bestSurprise - this.correction),
      component,
      contributions: this.shares(terms),
      weight,
      baseline: this.changed ? 'changed' : 'learned',
      newLevel,
      ...(home ? { home } : {}),
    };
  }

  /** The sample's surprise with its levels judged from the learned baseline (the other statistics as they are). */
  private judgedFromHome(scored: ReadonlyArray<[DetectorComponent, number, Float64Array]>, homeStats: ReadonlyArray<[DetectorComponent, number, Float64Array]>): { surprise: number; weight: number } {
    let best = 0;
    let weight = 1;
    const consider = (component: DetectorComponent, surprise: number) => {
      if (surprise <= best) return;
      best = surprise;
      weight = 1 / (this.model.calibration[component] as TailCalibration).correlation;
    };
    for (const [component, surprise] of scored) if (!LEVEL_COMPONENTS.has(component)) consider(component, surprise);
    for (const [component, value] of homeStats) {
      const calibration = this.model.calibration[component];
      if (calibration) consider(component, surpriseOf(calibration, value));
    }
    return { surprise: Math.max(0, best - this.correction), weight };
  }

  /**
   * A sample that nothing found unusual (every statistic inside the body of what was learned) moves
   * the baseline it was judged from towards it, with a memory as long as the learning period: slow,
   * benign drift (a season, wear within tolerance) is followed, while a fault, being unusual,
   * teaches nothing.
   */
  private follow(values: ArrayLike<number>): void {
    const weight = 1 / this.model.learnedSamples;
    const centre = this.nearHome || !this.changed ? this.home : this.changed;
    for (let c = 0; c < centre.length; c += 1) centre[c] = (centre[c] as number) + weight * ((values[c] as number) - (centre[c] as number));
  }

  /**
   * A level held off its baseline for the settle time, and steady while held, is a new level the
   * machine settled at (a setpoint moved, a load that stays): from then on it is judged against
   * that level, so that the next change is seen as one, and a harmless new level gives one alarm,
   * not an endless one. It is never the learned normal: its samples score with `changed` until the
   * machine is back where it learned, when the new level is forgotten (a fault that recurs alarms anew).
   * True when it took a level every sample of which was off (a change to report).
   */
  private watchLevel(values: ArrayLike<number>, levelSurprise: number, sampleLevelSurprise: number): boolean {
    if (this.levelChannels.length === 0) return false;
    // Nearer where it learned than the new level, for as long as a new level must be held to count:
    // the change is over, and whatever is still off is the alarm's to judge against the learned.
    this.homeCount = this.changed && this.nearHome ? this.homeCount + 1 : 0;
    if (this.homeCount >= this.settleSamples) {
      this.changed = undefined;
      this.changedScale = undefined;
      this.homeCount = 0;
    }
    // Unmistakably off: the sample itself rarer than anything the learning period showed.
    const rare = Math.log10(this.model.learnedSamples);
    this.sampleHeldCount = sampleLevelSurprise >= rare ? this.sampleHeldCount + 1 : 0;
    if (levelSurprise < OFF_BASELINE_SURPRISE) {
      this.heldCount = 0;
      return false;
    }
    const slot = this.held[this.heldCount % this.settleSamples] as Float64Array;
    for (let c = 0; c < slot.length; c += 1) slot[c] = values[c] as number;
    this.heldCount += 1;
    const unmistakable = this.sampleHeldCount >= this.settleSamples;
    // Steadiness sorts the held samples: looked at every tenth of the settle time, not every sample
    // (a fault that holds off unsteadily would otherwise pay it on each one).
    const looks = Math.max(1, Math.floor(this.settleSamples / 10));
    if (this.heldCount < this.settleSamples || (this.heldCount - this.settleSamples) % looks !== 0 || !this.heldSteady()) return false;
    const d = this.home.length;
    this.changed = Float64Array.from({ length: d }, (_, c) => median(this.held.map((row) => row[c] as number)));
    const spread = Array.from({ length: d }, (_, c) => Math.max(this.model.scale[c] as number, robustScale(this.held.map((row) => row[c] as number))));
    // The median of n samples misses the level by about sqrt(pi / 2n) spreads; a smoothed level's
    // own spread is sqrt(alpha / (2 - alpha)) of a sample's.
    const centreError = Math.PI / 2 / this.settleSamples;
    this.changedScale = {
      sample: Float64Array.from(spread, (value) => value * Math.sqrt(1 + centreError)),
      smooth: Float64Array.from(spread, (value) => value * Math.sqrt(1 + (centreError * (2 - SHIFT_ALPHA)) / SHIFT_ALPHA)),
    };
    this.heldCount = 0;
    this.homeCount = 0;
    return unmistakable;
  }

  /**
   * The held samples (the last settleSamples, oldest first) hold one level: the medians of their
   * halves differ by less than SETTLED_MOVE spreads, the learned spread or the held samples' own
   * if wider (a new regime may be noisier than the learned one, and is still a level).
   */
  private heldSteady(): boolean {
    const n = this.settleSamples;
    const oldest = this.heldCount % n;
    const half = Math.floor(n / 2);
    return this.levelChannels.every((c) => {
      const series = Array.from({ length: n }, (_, i) => (this.held[(oldest + i) % n] as Float64Array)[c] as number);
      const spread = Math.max(this.model.scale[c] as number, robustScale(series));
      return Math.abs(median(series.slice(0, half)) - median(series.slice(half))) <= SETTLED_MOVE * spread;
    });
  }

  /** The raw statistics of one sample, each with its per-channel terms; advance() moves on from it. */
  statistics(values: ArrayLike<number>): Array<[DetectorComponent, number, Float64Array]> {
    const { model } = this;
    const d = model.channels.length;
    for (let c = 0; c < d; c += 1) {
      const value = values[c] as number;
      // Before any sample, the level is where it was learned. Starting from the first sample would
      // give the smoothed level a sample's whole scatter, far wider than its own (a false shift
      // after a restart), and let the learning period's first sample set how large a shift the
      // calibration calls ordinary.
      const previous = this.seen === 0 ? (this.home[c] as number) : (this.smooth[c] as number);
      this.smooth[c] = previous + SHIFT_ALPHA * (value - previous);
    }
    // Each level judged from its nearest point of the way (the sample's own, the smoothed level's);
    // which end the machine is at is the smoothed level's, the steadier of the two.
    this.nearHome = this.judgeFrom(this.smooth, 'smooth', this.smoothJudgedFrom, this.smoothJudgedScale);
    this.judgeFrom(values, 'sample', this.judgedFrom, this.judgedScale);
    for (let c = 0; c < d; c += 1) {
      this.z[c] = ((values[c] as number) - (this.judgedFrom[c] as number)) / (this.judgedScale[c] as number);
      this.smoothZ[c] = ((this.smooth[c] as number) - (this.smoothJudgedFrom[c] as number)) / (this.smoothJudgedScale[c] as number);
    }
    const out: Array<[DetectorComponent, number, Float64Array]> = [];
    out.push(...this.levelStatistics(this.z, ['level', 't2', 'spe']));
    out.push(...this.levelStatistics(this.smoothZ, ['shift', 'shift-t2', 'shift-spe']));
    this.homeStats = this.changed ? this.homeLevelStatistics(values) : undefined;
    if (this.seen > 0) {
      const jump = new Float64Array(d);
      let largest = 0;
      for (let c = 0; c < d; c += 1) {
        const move = ((values[c] as number) - (this.course[c] as number)) / (model.scale[c] as number) / (model.jumpScale[c] as number);
        jump[c] = move * move;
        largest = Math.max(largest, move * move);
      }
      out.push(['jump', largest, jump]);
    }
    if (model.period && model.cycleScale && this.seen - this.cycleFrom >= model.period) {
      const past = this.history[this.seen % model.period] as Float64Array;
      const cycle = new Float64Array(d);
      let largest = 0;
      for (let c = 0; c < d; c += 1) {
        const off = ((values[c] as number) - (past[c] as number)) / (model.scale[c] as number) / (model.cycleScale[c] as number);
        cycle[c] = off * off;
        largest = Math.max(largest, off * off);
      }
      out.push(['cycle', largest, cycle]);
    }
    return out;
  }

  /** The level statistics of the sample and the smoothed level judged from the learned baseline alone. */
  private homeLevelStatistics(values: ArrayLike<number>): Array<[DetectorComponent, number, Float64Array]> {
    const { model, home } = this;
    const d = model.channels.length;
    const z = new Float64Array(d);
    const smoothZ = new Float64Array(d);
    for (let c = 0; c < d; c += 1) {
      const scale = model.scale[c] as number;
      z[c] = ((values[c] as number) - (home[c] as number)) / scale;
      smoothZ[c] = ((this.smooth[c] as number) - (home[c] as number)) / scale;
    }
    return [...this.levelStatistics(z, ['level', 't2', 'spe']), ...this.levelStatistics(smoothZ, ['shift', 'shift-t2', 'shift-spe'])];
  }

  /**
   * Where the level now (the smoothed samples) is judged from: home, or with a new level, the
   * nearest point of the way between the two (in learned spreads, over the level channels). Both
   * ends are states the machine has been seen to hold, and the way back from one to the other is
   * not a new anomaly; anything off that way is.
   */
  private judgeFrom(level: ArrayLike<number>, kind: 'sample' | 'smooth', judgedFrom: Float64Array, judgedScale: Float64Array): boolean {
    const { changed, home } = this;
    const changedScale = this.changedScale?.[kind];
    const scale = this.model.scale;
    if (!changed || !changedScale) {
      judgedFrom.set(home);
      judgedScale.set(scale);
      return true;
    }
    let along = 0;
    let length = 0;
    for (const c of this.levelChannels) {
      const spread = scale[c] as number;
      const way = ((changed[c] as number) - (home[c] as number)) / spread;
      along += (((level[c] as number) - (home[c] as number)) / spread) * way;
      length += way * way;
    }
    const share = length > 0 ? Math.min(1, Math.max(0, along / length)) : 0;
    for (let c = 0; c < judgedFrom.length; c += 1) {
      judgedFrom[c] = (home[c] as number) + share * ((changed[c] as number) - (home[c] as number));
      judgedScale[c] = (scale[c] as number) + share * ((changedScale[c] as number) - (scale[c] as number));
    }
    return share < 0.5;
  }

  private levelStatistics(z: Float64Array, [single, t2Name, speName]: [DetectorComponent, DetectorComponent, DetectorComponent]): Array<[DetectorComponent, number, Float64Array]> {
    const { model, levelChannels } = this;
    const d = model.channels.length;
    if (levelChannels.length === 0) return [];
    if (!model.principal) {
      const c = levelChannels[0] as number;
      const terms = new Float64Array(d);
      terms[c] = (z[c] as number) ** 2;
      return [[single, terms[c] as number, terms]];
    }
    const { components, variances } = model.principal;
    const residual = new Float64Array(d);
    for (const c of levelChannels) residual[c] = z[c] as number;
    const t2Terms = new Float64Array(d);
    let t2 = 0;
    components.forEach((direction, k) => {
      let projection = 0;
      levelChannels.forEach((c, i) => (projection += (direction[i] as number) * (z[c] as number)));
      const term = (projection * projection) / (variances[k] as number);
      t2 += term;
      levelChannels.forEach((c, i) => {
        residual[c] = (residual[c] as number) - projection * (direction[i] as number);
        // A channel's part of T²: its share of this direction's projection.
        t2Terms[c] = (t2Terms[c] as number) + term * (direction[i] as number) ** 2;
      });
    });
    const speTerms = new Float64Array(d);
    let spe = 0;
    for (const c of levelChannels) {
      speTerms[c] = (residual[c] as number) ** 2;
      spe += speTerms[c] as number;
    }
    const out: Array<[DetectorComponent, number, Float64Array]> = [[t2Name, t2, t2Terms]];
    if (components.length < levelChannels.length) out.push([speName, spe, speTerms]);
    return out;
  }

  /**
   * Moves on from the sample statistics() last saw. The cycle remembers the samples it may be judged
   * against: one rarer than the whole learning period showed keeps the slot's value from a period
   * before, or a fault would come back a period later as an echo (the day after an anomaly, judged
   * against it). The gate is that high on purpose: a slot kept for a merely uncommon sample goes
   * stale, and stale slots make more uncommon samples.
   */
  advance(ordinary: boolean, values: ArrayLike<number>): void {
    const { model } = this;
    const d = model.channels.length;
    for (let c = 0; c < d; c += 1) {
      const value = values[c] as number;
      this.course[c] = this.seen === 0 ? value : (this.course[c] as number) + model.courseAlpha * (value - (this.course[c] as number));
    }
    if (model.period && (ordinary || this.seen - this.cycleFrom < model.period)) {
      const slot = this.history[this.seen % model.period] as Float64Array;
      for (let c = 0; c < d; c += 1) slot[c] = values[c] as number;
    }
    this.seen += 1;
  }

  private shares(terms: Float64Array | undefined): Record<string, number> {
    const total = terms ? terms.reduce((sum, value) => sum + value, 0) : 0;
    const shares: Record<string, number> = {};
    this.model.channels.forEach((channel, c) => (shares[channel] = total > 0 && terms ? (terms[c] as number) / total : 0));
    return shares;
  }
}

function levelChannelsOf(drifting: readonly boolean[]): number[] {
  return drifting.flatMap((isDrifting, c) => (isDrifting ? [] : [c]));
}

/** The statistics of the learning rows as the stream computes them, and the raw moves behind jump and cycle. */
function rawStatistics(model: AutoDetectorModel, rows: readonly (readonly number[])[]) {
  const stream = new AutoDetectorStream(model);
  const stats: Partial<Record<DetectorComponent, number[]>> = {};
  const jumpResiduals: number[][] = [];
  const cycleResiduals: number[][] = [];
  for (const row of rows) {
    for (const [component, value, terms] of stream.statistics(row)) {
      (stats[component] ??= []).push(value);
      // With unit scales the terms are the squared raw moves; their signs do not matter to a spread.
      if (component === 'jump') jumpResiduals.push(Array.from(terms, Math.sqrt));
      if (component === 'cycle') cycleResiduals.push(Array.from(terms, Math.sqrt));
    }
    // The learning period is normal by definition.
    stream.advance(true, row);
  }
  return { stats, jumpResiduals, cycleResiduals };
}

/** Robust spread per channel of absolute moves (half-normal: median |x| / 0.6745), floored. */
function channelsSpread(residuals: number[][], d: number): number[] {
  return Array.from({ length: d }, (_, c) => {
    const values = residuals.map((row) => row[c] as number);
    const spread = median(values) / 0.6745;
    const rms = Math.sqrt(values.reduce((sum, value) => sum + value * value, 0) / Math.max(values.length, 1));
    // A channel that mostly holds still and sometimes steps (a setpoint) has a median move of 0:
    // then its RMS move is the scale, and with no move at all, a hundredth of its level's spread.
    return Math.max(spread, spread > 0 ? 0 : rms, 1e-2);
  });
}

/**
 * A channel's spread: the MAD, else the mean absolute deviation, and for a channel that never
 * moved, the smallest step between its values; never relative to the channel's size, which would
 * blind a tightly held 120 °C to its own wobble.
 */
function spreadOf(values: readonly number[]): number {
  const mad = robustScale(values);
  if (mad > 0) return mad;
  // Over half the values on one reading (a quantised flow that sits on 126 and steps to 127): the
  // mean absolute deviation still sees the steps it takes, as a normal's sigma (x 1.2533).
  const center = median(values);
  const meanDeviation = (1.2533 * values.reduce((sum, value) => sum + Math.abs(value - center), 0)) / values.length;
  if (meanDeviation > 0) return meanDeviation;
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  let resolution = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sorted.length; i += 1) resolution = Math.min(resolution, (sorted[i] as number) - (sorted[i - 1] as number));
  if (Number.isFinite(resolution)) return resolution;
  return Math.max(1e-6, Math.abs(values[0] ?? 0) * 1e-6);
}

/**
 * Whether a channel's level wanders on the scale of the learning period: how much of its variance
 * is the spread between the means of the period's four quarters. Noise around a level, or a cycle
 * shorter than a quarter, leaves the quarters' means alike (under 1 %); a straight line puts 94 %
 * of its variance there, a random walk over the period 38-87 % (10th to 90th percentile, measured
 * on 1,000-sample walks), a level with a memory a tenth of the period long 11-60 %. Past
 * WANDER_SHARE, where the level will be next is not something the learning period can say.
 */
function wanders(values: readonly number[]): boolean {
  const n = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / n;
  if (variance === 0) return false;
  const quarter = n / 4;
  const quarterMeans = [0, 1, 2, 3].map((k) => {
    const part = values.slice(Math.round(k * quarter), Math.round((k + 1) * quarter));
    return part.reduce((sum, value) => sum + value, 0) / part.length;
  });
  const spread = quarterMeans.reduce((sum, value) => sum + (value - mean) ** 2, 0) / 4;
  return spread / variance > WANDER_SHARE;
}

/** Share of the series' variance a straight line through time explains (R²). */
function trendShare(values: readonly number[]): number {
  const n = values.length;
  const xMean = (n - 1) / 2;
  const yMean = values.reduce((sum, value) => sum + value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  values.forEach((value, i) => {
    sxy += (i - xMean) * (value - yMean);
    sxx += (i - xMean) ** 2;
    syy += (value - yMean) ** 2;
  });
  return syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
}

function principalModel(z: readonly (readonly number[])[], channels: readonly number[]): NonNullable<AutoDetectorModel['principal']> {
  const k = channels.length;
  const covariance = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const row of z) {
    for (let i = 0; i < k; i += 1) {
      for (let j = i; j < k; j += 1) covariance[i]![j]! += (row[channels[i] as number] as number) * (row[channels[j] as number] as number);
    }
  }
  for (let i = 0; i < k; i += 1) {
    for (let j = i; j < k; j += 1) {
      covariance[i]![j]! /= z.length;
      covariance[j]![i] = covariance[i]![j] as number;
    }
  }
  // On the robust z-scores as they are: standardising again by each channel's classical spread
  // would hand the model back to whatever outliers the learning period held.
  const eigen = symmetricEigen(covariance);
  const { values, vectors } = eigen;
  const total = eigen.values.reduce((sum, value) => sum + value, 0);
  let kept = 0;
  let explained = 0;
  while (kept < k - 1 && explained < EXPLAINED_VARIANCE * total) explained += eigen.values[kept++] as number;
  kept = Math.max(1, kept);
  // A direction with almost no variance would make T² divide by ~0: floor at a hundredth of the largest.
  const floor = Math.max((values[0] as number) * 1e-2, 1e-6);
  return { components: vectors.slice(0, kept), variances: values.slice(0, kept).map((value) => Math.max(value, floor)) };
}

/**
 * The period (in samples) of a clear cycle, if the learning period holds at least two: the lag,
 * between MIN_PERIOD and half the samples, where the channels' mean autocorrelation peaks, when
 * that peak is at least MIN_CYCLE_CORRELATION.
 */
function periodOf(z: readonly (readonly number[])[]): number | undefined {
  const n = z.length;
  const d = z[0]?.length ?? 0;
  const maxLag = Math.floor(n / 2);
  if (maxLag <= MIN_PERIOD) return undefined;
  const centred = Array.from({ length: d }, (_, c) => {
    const series = z.map((row) => row[c] as number);
    const mean = series.reduce((sum, value) => sum + value, 0) / n;
    return series.map((value) => value - mean);
  });
  const correlation = (lag: number) => {
    let total = 0;
    for (const series of centred) {
      let cross = 0;
      let a = 0;
      let b = 0;
      for (let t = lag; t < n; t += 1) {
        cross += (series[t] as number) * (series[t - lag] as number);
        a += (series[t] as number) ** 2;
        b += (series[t - lag] as number) ** 2;
      }
      total += a > 0 && b > 0 ? cross / Math.sqrt(a * b) : 0;
    }
    return total / d;
  };
  const acf = Array.from({ length: maxLag + 2 }, (_, lag) => (lag < MIN_PERIOD - 1 ? 0 : correlation(lag)));
  let best: number | undefined;
  let bestValue = MIN_CYCLE_CORRELATION;
  // A peak, not the slow decay of a smooth series: higher than its neighbours and than the dip before it.
  for (let lag = MIN_PERIOD; lag <= maxLag; lag += 1) {
    const value = acf[lag] as number;
    if (value < bestValue || value < (acf[lag - 1] as number) || value < (acf[lag + 1] as number)) continue;
    const dip = Math.min(...acf.slice(MIN_PERIOD - 1, lag));
    if (value - dip < 0.3) continue;
    best = lag;
    bestValue = value;
  }
  return best;
}

function samplePeriodOf(timestamps: readonly number[]): number {
  const steps: number[] = [];
  for (let i = 1; i < timestamps.length; i += 1) steps.push((timestamps[i] as number) - (timestamps[i - 1] as number));
  const step = median(steps.filter((value) => value > 0));
  return step > 0 ? step : 1000;
}

export function isAutoDetectorModel(value: unknown): value is AutoDetectorModel {
  const model = value as Record<string, unknown> | null;
  if (typeof model !== 'object' || model === null || model.kind !== AUTO_DETECTOR_KIND) return false;
  const channels = model.channels;
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((channel) => typeof channel === 'string')) return false;
  const d = channels.length;
  const vector = (v: unknown, positive: boolean) => isVector(v, d, positive);
  const calibration = model.calibration as Record<string, unknown> | null;
  return (
    vector(model.center, false) &&
    vector(model.scale, true) &&
    vector(model.jumpScale, true) &&
    Array.isArray(model.drifting) &&
    model.drifting.length === d &&
    Number.isFinite(model.samplePeriodMs) &&
    Number.isFinite(model.courseAlpha) &&
    (model.period === undefined || (Number.isInteger(model.period) && (model.period as number) >= 2 && vector(model.cycleScale, true))) &&
    typeof calibration === 'object' &&
    calibration !== null &&
    Object.values(calibration).every(isTailCalibration)
  );
}
