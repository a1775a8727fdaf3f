import { DEFAULT_THRESHOLD_SETTINGS } from '@vigil/shared';
import { DEFAULT_TRAIN_OPTIONS } from '../trainer.js';
import type { EvalModelConfig } from './skab-evaluation.js';

const { warmupSamples: _unused, ...defaultThreshold } = DEFAULT_THRESHOLD_SETTINGS;
const train = { ...DEFAULT_TRAIN_OPTIONS, epochs: 60, batchSize: 32 };

/**
 * The configurations the evaluation compares, all through the same code the services run. The
 * first uses the product's defaults (tuned on the simulated pump at 10 Hz); the second is the best
 * balance found on SKAB (1 Hz, level faults): level features only, a shorter window and a lower,
 * quicker threshold. The trade-off between them is the point of showing both.
 */
export const EVAL_MODELS: EvalModelConfig[] = [
  {
    name: 'dense-ae (product defaults)',
    kind: 'dense-ae',
    windowSize: 10,
    features: ['mean', 'std', 'slope'],
    train,
    threshold: defaultThreshold,
    holdoutFraction: 0.25,
  },
  {
    name: 'dense-ae (levels, 5 s window)',
    kind: 'dense-ae',
    windowSize: 5,
    features: ['mean'],
    train,
    threshold: { ...defaultThreshold, highSigmas: 2.5, lowSigmas: 2, enterK: 10, enterN: 15, exitK: 10, exitN: 10 },
    holdoutFraction: 0.25,
  },
  {
    name: 'isolation forest (levels, 5 s window)',
    kind: 'isolation-forest',
    windowSize: 5,
    features: ['mean'],
    train,
    threshold: { ...defaultThreshold, highSigmas: 2.5, lowSigmas: 2, enterK: 10, enterN: 15, exitK: 10, exitN: 10 },
    holdoutFraction: 0.25,
  },
];
