/**
 * One asset's default detection, end to end and in one process: the detector learned from the
 * learning period (what the inference service runs per asset) and the surprise threshold (what
 * the adaptive-threshold service runs per asset). The evaluation runs this, so what is evaluated
 * is what a device runs with no settings, class for class.
 */
import { AutoDetectorStream, learnAutoDetector, type AutoDetectorModel, type DetectorScore } from './auto-detector.js';
import { DEFAULT_EVIDENCE_ALARM_SETTINGS, type EvidenceAlarmSettings } from './evidence-alarm.js';
import { initialSurpriseThresholdState, levelNewsOf, SurpriseThreshold } from './surprise-threshold.js';
import type { ThresholdDecision } from './adaptive-threshold.js';

export interface DefaultDetection extends DetectorScore {
  decision: ThresholdDecision;
  /** True on the sample an alarm began: the detection event. */
  raised: boolean;
}

export class DefaultDetector {
  private readonly stream: AutoDetectorStream;
  private readonly threshold: SurpriseThreshold;

  constructor(
    readonly model: AutoDetectorModel,
    alarmSettings: EvidenceAlarmSettings = DEFAULT_EVIDENCE_ALARM_SETTINGS,
  ) {
    // Cold, as in service: a new asset's stream has no course or cycle memory yet.
    this.stream = new AutoDetectorStream(model);
    this.threshold = new SurpriseThreshold(alarmSettings, initialSurpriseThresholdState(0, model.samplePeriodMs));
  }

  static learn(channels: readonly string[], rows: readonly (readonly number[])[], timestamps: readonly number[], alarmSettings?: EvidenceAlarmSettings): DefaultDetector {
    return new DefaultDetector(learnAutoDetector(channels, rows, timestamps), alarmSettings);
  }

  detect(values: ArrayLike<number>, ts: number): DefaultDetection {
    const score = this.stream.score(values);
    const decision = this.threshold.decide(score.surprise, ts, true, score.weight, levelNewsOf(score));
    return { ...score, decision, raised: decision.changed && decision.state === 'anomalous' };
  }
}
