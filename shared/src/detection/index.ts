/**
 * `@vigil/shared/detection`: from scores to decisions. The default detector and its calibration,
 * the evidence alarm and the two thresholds (surprise, adaptive), shared so that evaluation and
 * serving run the same code.
 */
export * from './adaptive-threshold.js';
export * from './tail-calibration.js';
export * from './auto-detector.js';
export * from './evidence-alarm.js';
export * from './default-detector.js';
export * from './surprise-threshold.js';
export { median, quantile, robustScale } from './linear-algebra.js';
