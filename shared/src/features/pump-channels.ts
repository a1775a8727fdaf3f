import type { PhysicalLimits } from './reading-cleaner.js';
import type { FeatureSpec } from './feature-pipeline.js';

/**
 * The default asset: a pump with eight sensors, named as the simulator names them and as SKAB's
 * columns are mapped (vibration x2, motor current, pressure, motor and fluid temperature, supply
 * voltage, flow).
 */
export const PUMP_CHANNEL_NAMES = [
  'vibration1',
  'vibration2',
  'current',
  'pressure',
  'motorTemperature',
  'fluidTemperature',
  'voltage',
  'flow',
] as const;
export type PumpChannel = (typeof PUMP_CHANNEL_NAMES)[number];

/** Physical limits a working sensor cannot exceed; beyond them a value is a sensor fault. */
export const PUMP_PHYSICAL_LIMITS: Record<string, PhysicalLimits> = {
  vibration1: { min: 0, max: 50 },
  vibration2: { min: 0, max: 50 },
  current: { min: -1, max: 100 },
  pressure: { min: -1, max: 100 },
  motorTemperature: { min: -40, max: 200 },
  fluidTemperature: { min: -40, max: 200 },
  voltage: { min: 0, max: 1000 },
  flow: { min: -1, max: 1000 },
};

/**
 * What the preprocessor sends with no settings: each channel's standardised reading (`last`). The
 * default detector (detection/auto-detector.ts) keeps its own memory of the recent course, the
 * cycle and the shift, so a window of summaries in front of it would only add delay.
 */
export const DEFAULT_FEATURE_SPEC: FeatureSpec = {
  channels: [...PUMP_CHANNEL_NAMES],
  features: ['last'],
  // `last` reads no window: the smallest one, so the first reading is not held back for nothing.
  windowSize: 2,
  scalerWarmup: 1200,
};

/** Default handling of bad readings: impute a gap of a few samples, reject impossible values. */
export const DEFAULT_CLEANER_POLICIES = {
  missing: 'impute',
  non_finite: 'impute',
  out_of_range: 'reject',
} as const;

export const DEFAULT_FORWARD_FILL_LIMIT = 5;
