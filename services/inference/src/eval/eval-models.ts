import { DEFAULT_THRESHOLD_SETTINGS } from '@vigil/shared';
import { DEFAULT_TRAIN_OPTIONS } from '../trainer.js';
import type { EvalModelConfig } from './skab-evaluation.js';

const { warmupSamples: _unused, ...threshold } = DEFAULT_THRESHOLD_SETTINGS;

/** The models the evaluation compares; the first is the product's default. */
export const EVAL_MODELS: EvalModelConfig[] = [
  {
    name: 'dense-ae',
    windowSize: 10,
    features: ['mean', 'std', 'slope'],
    train: { ...DEFAULT_TRAIN_OPTIONS, epochs: 60, batchSize: 32 },
    threshold,
    holdoutFraction: 0.25,
  },
];
