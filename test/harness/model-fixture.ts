import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLEANER_POLICIES, DEFAULT_FEATURE_SPEC, DEFAULT_FORWARD_FILL_LIMIT, PUMP_PHYSICAL_LIMITS, type FeatureSettings } from '@vigil/shared/features';
import { type ModelKind, type ModelPrecision } from '@vigil/shared/model';
import { buildBundle } from '../../training/src/bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS } from '../../training/src/trainer.js';
import { PumpSimulator } from '../../services/sensor-reader/src/pump-simulator.js';

/** What the device runs with no settings: the preprocessor's defaults. */
export const DEFAULT_FEATURE_SETTINGS: FeatureSettings = {
  ...DEFAULT_FEATURE_SPEC,
  limits: PUMP_PHYSICAL_LIMITS,
  policies: DEFAULT_CLEANER_POLICIES,
  forwardFillLimit: DEFAULT_FORWARD_FILL_LIMIT,
};

/**
 * The autoencoders' tests read window summaries (mean, spread and slope over ten readings), the
 * features a dense autoencoder needs to see how a sensor behaves over time; the default detector
 * keeps that memory itself and reads each channel's reading.
 */
export const TEST_FEATURE_SETTINGS: FeatureSettings = { ...DEFAULT_FEATURE_SETTINGS, features: ['mean', 'std', 'slope'], windowSize: 10 };

/** The preprocessor's variables for TEST_FEATURE_SETTINGS, for a pipeline that runs an autoencoder's bundle. */
export const TEST_FEATURE_ENV = { VIGIL_PREPROCESSOR_FEATURES: TEST_FEATURE_SETTINGS.features.join(','), VIGIL_PREPROCESSOR_WINDOW: String(TEST_FEATURE_SETTINGS.windowSize) };

/** The conv autoencoder reads the standardised window itself: 16 readings of every channel. */
export const CONV_TEST_FEATURE_SETTINGS: FeatureSettings = { ...TEST_FEATURE_SETTINGS, features: ['series'], windowSize: 16 };

/** Normal readings from the simulated pump (no faults). */
export function simulatedNormalReadings(samples: number, seed: number, rateHz = 10): Array<Record<string, number>> {
  const simulator = new PumpSimulator({ seed, rateHz });
  return Array.from({ length: samples }, () => ({ ...simulator.next() }));
}

/**
 * Trains a real bundle on simulated normal operation (twenty simulated minutes), by the same code
 * path as `npm run train`. Training takes ~25 s, so one run of the suite trains each distinct
 * bundle once and the test files share it from the temporary folder.
 */
export async function trainTestBundle(
  options: { samples?: number; epochs?: number; seed?: number; precision?: ModelPrecision; kind?: ModelKind } = {},
): Promise<string> {
  const samples = options.samples ?? 12_000;
  const epochs = options.epochs ?? 15;
  const seed = options.seed ?? 3;
  // FP32 unless asked: the runtime-vs-TensorFlow.js tests read the bundle with TF.js itself.
  const precision = options.precision ?? 'fp32';
  const kind = options.kind ?? 'dense-autoencoder';
  if (kind === 'auto-detector') throw new Error('trainTestBundle trains autoencoders and forests; the default detector is defaultTestBundle()');
  const dir = join(tmpdir(), `vigil-test-bundle-${process.env.VIGIL_TEST_RUN ?? process.pid}-${samples}-${epochs}-${seed}-${precision}-${kind}`);
  if (existsSync(join(dir, 'bundle.json'))) return dir;
  await buildBundle(simulatedNormalReadings(samples, seed), dir, {
    name: 'test-pump-ae',
    version: 'test',
    featureSettings: kind === 'conv-autoencoder' ? CONV_TEST_FEATURE_SETTINGS : TEST_FEATURE_SETTINGS,
    train: { ...DEFAULT_TRAIN_OPTIONS, epochs },
    precision,
    kind,
  });
  return dir;
}

/**
 * The default detector as learn mode builds it, on five simulated minutes of the healthy pump at
 * 10 Hz (3,000 samples, as learn mode collects by default). No training run: this takes a second.
 */
export async function defaultTestBundle(options: { samples?: number; seed?: number } = {}): Promise<string> {
  const samples = options.samples ?? 3000;
  const seed = options.seed ?? 3;
  const dir = join(tmpdir(), `vigil-test-bundle-${process.env.VIGIL_TEST_RUN ?? process.pid}-default-${samples}-${seed}`);
  if (existsSync(join(dir, 'bundle.json'))) return dir;
  // The scaler learns first, as the preprocessor does (1,200 readings), then the detector learns.
  const readings = simulatedNormalReadings(DEFAULT_FEATURE_SPEC.scalerWarmup + samples, seed);
  await buildBundle(readings, dir, {
    name: 'test-pump-detector',
    version: 'test',
    featureSettings: DEFAULT_FEATURE_SETTINGS,
    train: DEFAULT_TRAIN_OPTIONS,
    precision: 'fp32',
    kind: 'auto-detector',
    timestamps: readings.map((_, index) => index * 100),
  });
  return dir;
}
