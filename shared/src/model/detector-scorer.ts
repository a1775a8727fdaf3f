import { AutoDetectorStream, isDetectorMemory, type AutoDetectorModel, type DetectorMemory } from '../detection/auto-detector.js';
import { levelNewsOf } from '../detection/surprise-threshold.js';
import type { ScoredSample } from './reconstruction-scorer.js';

/** Assets whose detector memory is kept; the least recently scored one is dropped past it. */
export const MAX_DETECTOR_ASSETS = 256;

/**
 * The default detector as an anomaly scorer: its calibrated surprise, and each sensor's share of
 * the statistic that gave it (features are channel-major, `featuresPerChannel` each). The detector
 * remembers each asset's recent course, so each asset gets its own stream.
 */
export class DetectorScorer {
  readonly calibrated: { samplePeriodMs: number };
  private readonly streams = new Map<string, AutoDetectorStream>();

  constructor(
    private readonly model: AutoDetectorModel,
    private readonly channels: readonly string[],
    private readonly featuresPerChannel: number,
  ) {
    if (channels.length * featuresPerChannel !== model.channels.length) {
      throw new Error(`${channels.length} channels x ${featuresPerChannel} features do not match the detector's ${model.channels.length} inputs`);
    }
    this.calibrated = { samplePeriodMs: model.samplePeriodMs };
  }

  /** Whether this asset's memory is in hand (it has been scored, or resumed). */
  remembers(asset: string): boolean {
    return this.streams.has(asset);
  }

  /**
   * Picks up an asset where a restarted service left it: true if the memory fits this model (a
   * memory of another model, or malformed, is refused and the asset starts afresh).
   */
  resume(asset: string, memory: unknown): boolean {
    if (this.streams.has(asset) || !isDetectorMemory(memory, this.model)) return false;
    this.keep(asset, new AutoDetectorStream(this.model, memory));
    return true;
  }

  /** The asset's memory, as a restart would need it; undefined for an asset not scored. */
  memoryOf(asset: string): DetectorMemory | undefined {
    return this.streams.get(asset)?.memory();
  }

  /** Whether the asset's levels are judged from a settled new level. */
  atNewLevel(asset: string): boolean {
    return this.streams.get(asset)?.atNewLevel ?? false;
  }

  private keep(asset: string, stream: AutoDetectorStream): void {
    if (this.streams.size >= MAX_DETECTOR_ASSETS) this.streams.delete(this.streams.keys().next().value as string);
    this.streams.set(asset, stream);
  }

  score(features: ArrayLike<number>, asset = ''): ScoredSample {
    let stream = this.streams.get(asset);
    // Map order is insertion order: re-inserting keeps the most recently scored asset last.
    if (stream) this.streams.delete(asset);
    else stream = new AutoDetectorStream(this.model);
    this.keep(asset, stream);
    const scored = stream.score(features);
    const { surprise, contributions: byFeature, weight } = scored;
    const contributions: Record<string, number> = {};
    this.channels.forEach((channel, index) => {
      let share = 0;
      for (let i = index * this.featuresPerChannel; i < (index + 1) * this.featuresPerChannel; i += 1) share += byFeature[this.model.channels[i] as string] ?? 0;
      contributions[channel] = share;
    });
    return { score: surprise, contributions, weight, level: levelNewsOf(scored) };
  }
}
