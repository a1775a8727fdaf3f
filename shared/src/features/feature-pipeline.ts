/**
 * One asset's path from a raw reading to the feature vector the model sees: clean (validate,
 * impute), standardise with running statistics, then window features. The preprocessor runs it
 * per sample; `train` and the evaluation run the very same code over files, so what the model
 * learned from is what it is shown in service.
 */
import type { ReadingValue } from '../messages.js';
import { ReadingCleaner, type CleanerSettings, type ReadingProblem, type RejectReadingReason } from './reading-cleaner.js';
import { RunningStats, type RunningStatsState } from './running-stats.js';
import { featureNames, SlidingWindow, type WindowFeature } from './window-features.js';

/** What the model depends on; recorded in every model bundle and checked against the service. */
export interface FeatureSpec {
  channels: string[];
  features: WindowFeature[];
  windowSize: number;
  /** Readings the scaler learns from before its statistics are frozen. */
  scalerWarmup: number;
}

export interface FeatureSettings extends FeatureSpec, Omit<CleanerSettings, 'channels'> {}

export type FeatureResult =
  | {
      ok: true;
      features: number[];
      /** Still learning the scaler or filling the window: not fit to score. */
      warmup: boolean;
      imputed: Array<{ channel: string; problem: ReadingProblem }>;
    }
  | { ok: false; reason: RejectReadingReason; channel?: string };

export class AssetFeaturePipeline {
  readonly names: string[];
  private readonly cleaner: ReadingCleaner;
  private readonly window: SlidingWindow;
  private readonly scalers: RunningStats[];
  private readonly standardised: Float64Array;
  private readonly featureBuffer: number[];

  constructor(
    private readonly settings: FeatureSettings,
    scalerState?: RunningStatsState[],
  ) {
    this.names = featureNames(settings.channels, settings.features, settings.windowSize);
    this.cleaner = new ReadingCleaner({ ...settings, channels: settings.channels });
    this.window = new SlidingWindow(settings.windowSize, settings.channels.length);
    this.scalers =
      scalerState && scalerState.length === settings.channels.length
        ? scalerState.map((state) => RunningStats.from(state))
        : settings.channels.map(() => new RunningStats());
    this.standardised = new Float64Array(settings.channels.length);
    this.featureBuffer = new Array<number>(this.names.length).fill(0);
  }

  /** The asset's channels, in feature order. */
  get channels(): string[] {
    return this.settings.channels;
  }

  get scalerFrozen(): boolean {
    return (this.scalers[0]?.count ?? 0) >= this.settings.scalerWarmup;
  }

  process(channels: Readonly<Record<string, ReadingValue | number>>): FeatureResult {
    const cleaned = this.cleaner.clean(channels);
    if (!cleaned.ok) return cleaned;
    const learning = !this.scalerFrozen;
    for (let index = 0; index < cleaned.values.length; index += 1) {
      const scaler = this.scalers[index] as RunningStats;
      const value = cleaned.values[index] as number;
      if (learning) scaler.push(value);
      this.standardised[index] = (value - scaler.mean) / stdFloor(scaler);
    }
    this.window.push(this.standardised);
    this.window.features(this.settings.features, this.featureBuffer);
    return {
      ok: true,
      features: this.featureBuffer.slice(),
      warmup: learning || !this.window.full,
      imputed: cleaned.imputed,
    };
  }

  scalerState(): RunningStatsState[] {
    return this.scalers.map((scaler) => scaler.toJSON());
  }
}

/**
 * A channel that barely moved while the scaler learned (a setpoint, a stuck sensor) must not turn
 * a tiny later wobble into a huge z-score: the spread is floored relative to the channel's size.
 */
function stdFloor(scaler: RunningStats): number {
  return Math.max(scaler.std, 1e-3 * Math.max(Math.abs(scaler.mean), 1e-3));
}
