import { DEFAULT_THRESHOLD_SETTINGS } from '@vigil/shared/detection';
import { DEFAULT_TRAIN_OPTIONS } from '../../training/src/trainer.js';
import type { EvalModelConfig } from './skab-evaluation.js';

const { warmupSamples: _unused, ...defaultThreshold } = DEFAULT_THRESHOLD_SETTINGS;
const train = { ...DEFAULT_TRAIN_OPTIONS, epochs: 60, batchSize: 32 };

/**
 * The best balance found on SKAB (1 Hz, level faults): level features, a short window, a lower
 * and quicker threshold, and alarms that end when the fault does (settleFactor). Most false alarms
 * came after a fault had ended (816 of 971 rows): the rig settles at a state it was not learned in,
 * scores fall 10-1,000x from the fault's level but stay above the low mark. Ending the alarm on a
 * 10x fall cut those rows to 278 and left room to enter lower: 2.5 / 2 sigma of the log-score.
 * Chosen with training seeds 42, 1 and 2 (the neighbours, F1 / FAR % / MAR % for seed 42:
 * 2.5 / 2.25 sigma 0.854 / 3.52 / 23.20 (seed 2: MAR 25.17); 2.25 / 2 0.844 / 8.98 / 21.27;
 * 2.5 / 1.75 0.846 / 8.95 / 21.08; settleFactor 5 0.831 / 7.11 / 24.62, 20 0.844 / 8.54 / 21.56),
 * then checked with seeds not used to choose it (docs/evaluation.md, SKAB).
 */
const levels: Omit<EvalModelConfig, 'id' | 'name'> = {
  kind: 'dense-ae',
  windowSize: 5,
  features: ['mean'],
  train,
  threshold: { ...defaultThreshold, highSigmas: 2.5, lowSigmas: 2, enterK: 10, enterN: 15, exitK: 10, exitN: 10, settleFactor: 10 },
  holdoutFraction: 0.25,
};

/** The conv autoencoder over the 16 s window itself, with the same threshold. */
const conv: Omit<EvalModelConfig, 'id' | 'name'> = { ...levels, kind: 'conv-ae', windowSize: 16, features: ['series'], train: { ...train, epochs: 20 } };

/**
 * SKAB's rig is a closed water loop that warms up through every experiment, fault or not: the
 * motor and fluid temperatures keep rising after the first 400 rows, and a model of levels learned
 * on them flags the warming, above all after a fault ends (most false alarms came after the fault,
 * 2,093 of 2,754 rows, with the threshold of the time). Without the two temperatures FAR fell from
 * 24.5 % to 9.7 %; the price is blindness to a fault seen only in temperature (valve1/2 and 4).
 */
const WITHOUT_TEMPERATURES = ['vibration1', 'vibration2', 'current', 'pressure', 'voltage', 'flow'];

/**
 * The autoencoder and forest configurations the evaluation compares with the default detector,
 * all through the same code the services run. The first is what the product ran by default before
 * the default detector (tuned on the simulated pump at 10 Hz); the second is the best
 * balance found on SKAB (1 Hz, level faults): level features only, a shorter window and a lower,
 * quicker threshold. The trade-off between them is the point of showing both. The third drops the
 * loop temperatures (above), the fourth is the third as learn mode ships it: quantized to INT8,
 * calibrated on the training rows. These settings were chosen on SKAB itself (it has no
 * validation split), one setting for all 34 files.
 */
export const EVAL_MODELS: EvalModelConfig[] = [
  {
    id: 'dense-ae-defaults',
    name: 'dense-ae (the defaults before the default detector)',
    kind: 'dense-ae',
    windowSize: 10,
    features: ['mean', 'std', 'slope'],
    train,
    threshold: defaultThreshold,
    holdoutFraction: 0.25,
  },
  { id: 'dense-ae', name: 'dense-ae (levels, 5 s window)', ...levels },
  { id: 'dense-ae-6ch', name: 'dense-ae (levels, no loop temperatures)', ...levels, channels: WITHOUT_TEMPERATURES },
  { id: 'dense-ae-6ch-int8', name: 'dense-ae INT8 (levels, no loop temperatures)', ...levels, channels: WITHOUT_TEMPERATURES, precision: 'int8' },
  { id: 'conv-ae', name: 'conv-ae (16 s window)', ...conv },
  { id: 'conv-ae-int8', name: 'conv-ae INT8 (16 s window)', ...conv, precision: 'int8' },
  { id: 'iforest', name: 'isolation forest (levels, 5 s window)', ...levels, kind: 'isolation-forest' },
];
