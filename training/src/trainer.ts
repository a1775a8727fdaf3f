/**
 * Trains the dense autoencoder (inputs → 64 → 32 → 64 → inputs, relu, linear output) on
 * feature vectors of normal operation, and returns it in the standard TF.js layers format.
 */
import { SeededRandom } from '@vigil/shared/runtime';
import { loadTensorFlow } from './tensorflow.js';

export interface TrainOptions {
  hiddenUnits: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Called after each epoch with its loss; training logs progress through it. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  hiddenUnits: [64, 32, 64],
  epochs: 40,
  batchSize: 64,
  learningRate: 0.001,
  seed: 42,
};

export interface TrainedModel {
  /** model.json content in the TF.js layers format. */
  modelJson: {
    format: 'layers-model';
    generatedBy: string;
    convertedBy: null;
    modelTopology: unknown;
    weightsManifest: Array<{ paths: string[]; weights: unknown[] }>;
  };
  weights: Uint8Array;
  finalLoss: number;
  backend: string;
}

export const WEIGHTS_FILE = 'weights.bin';

/** The window a convolutional autoencoder reads: `steps` readings of `channels` channels. */
export interface WindowShape {
  steps: number;
  channels: number;
}

/**
 * Filters per hidden convolution, and the kernel width (readings each one sees). The middle
 * layer is the bottleneck: 4 filters for 8 channels, so the network cannot pass the window
 * through unchanged and has to learn how the channels move together over time. TF.js has no
 * 1-D upsampling layer, so the time axis keeps its length ('same' padding, stride 1).
 */
export const CONV_FILTERS = [16, 4, 16] as const;
export const CONV_KERNEL = 5;

export async function trainDenseAutoencoder(samples: number[][], options: TrainOptions): Promise<TrainedModel> {
  const inputSize = samples[0]?.length ?? 0;
  if (samples.length < options.batchSize || inputSize === 0) {
    throw new Error(`need at least ${options.batchSize} training samples, got ${samples.length}`);
  }
  const { tf, backend } = await loadTensorFlow();
  const model = tf.sequential();
  options.hiddenUnits.forEach((units, index) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed + index }),
        ...(index === 0 ? { inputShape: [inputSize] } : {}),
      }),
    );
  });
  model.add(
    tf.layers.dense({
      units: inputSize,
      activation: 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed + options.hiddenUnits.length }),
    }),
  );
  return fitAndExport(tf, backend, model, samples, options, (rows) => tf.tensor2d(rows));
}

/**
 * Trains the 1-D convolutional autoencoder on windows. Samples are channel-major feature vectors
 * (the `series` feature: each channel's window, oldest first); TF.js convolves channels-last, so
 * each is transposed to [steps][channels] here, as the runtime does before its first layer.
 */
export async function trainConvAutoencoder(samples: number[][], shape: WindowShape, options: TrainOptions): Promise<TrainedModel> {
  const { steps, channels } = shape;
  if (samples.length < options.batchSize) throw new Error(`need at least ${options.batchSize} training samples, got ${samples.length}`);
  if (steps < CONV_KERNEL) throw new Error(`the conv autoencoder needs a window of at least ${CONV_KERNEL} readings, got ${steps}`);
  const wrong = samples.find((sample) => sample.length !== steps * channels);
  if (wrong) throw new Error(`a sample has ${wrong.length} values, expected ${steps} x ${channels}`);
  const { tf, backend } = await loadTensorFlow();
  const model = tf.sequential();
  const [first, bottleneck, third] = CONV_FILTERS;
  const conv = (filters: number, strides: number, activation: 'relu' | 'linear', index: number, inputShape?: number[]) =>
    tf.layers.conv1d({
      filters,
      kernelSize: CONV_KERNEL,
      strides,
      padding: 'same',
      activation,
      kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed + index }),
      ...(inputShape ? { inputShape } : {}),
    });
  model.add(conv(first, 1, 'relu', 0, [steps, channels]));
  model.add(conv(bottleneck, 1, 'relu', 1));
  model.add(conv(third, 1, 'relu', 2));
  model.add(conv(channels, 1, 'linear', 3));
  return fitAndExport(tf, backend, model, samples, options, (rows) =>
    tf.tensor3d(rows.map((row) => Array.from({ length: steps }, (_, t) => Array.from({ length: channels }, (_, c) => row[c * steps + t] as number)))),
  );
}

async function fitAndExport(
  tf: Awaited<ReturnType<typeof loadTensorFlow>>['tf'],
  backend: string,
  model: import('@tensorflow/tfjs').Sequential,
  samples: number[][],
  options: TrainOptions,
  toTensor: (rows: number[][]) => import('@tensorflow/tfjs').Tensor,
): Promise<TrainedModel> {
  model.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'meanSquaredError' });

  // TF.js shuffles with Math.random, which cannot be seeded: the same data gave models a few
  // points of F1 apart on SKAB. Each epoch is shuffled here instead, from the seed, so a training
  // run (and the evaluation built on it) repeats exactly on the CPU backend.
  const random = new SeededRandom(options.seed);
  const order = samples.map((_, index) => index);
  let finalLoss = Number.NaN;
  for (let epoch = 0; epoch < options.epochs; epoch += 1) {
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random.next() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const inputs = toTensor(order.map((index) => samples[index] as number[]));
    try {
      const history = await model.fit(inputs, inputs, { epochs: 1, batchSize: options.batchSize, shuffle: false, verbose: 0 });
      finalLoss = Number(history.history.loss?.[0]);
      options.onEpoch?.(epoch, finalLoss);
    } finally {
      inputs.dispose();
    }
  }

  let artifacts: import('@tensorflow/tfjs').io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('TensorFlow.js saved no weights');
  const weightParts = Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
  const weights = Buffer.concat(weightParts.map((part) => new Uint8Array(part)));
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
    },
    weights,
    finalLoss,
    backend,
  };
}
