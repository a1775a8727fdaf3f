/**
 * Trains the dense autoencoder (inputs → 64 → 32 → 64 → inputs, relu, linear output) on
 * feature vectors of normal operation, and returns it in the standard TF.js layers format.
 */
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
  model.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'meanSquaredError' });

  const inputs = tf.tensor2d(samples);
  let finalLoss = Number.NaN;
  try {
    await model.fit(inputs, inputs, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      shuffle: true,
      verbose: 0,
      callbacks: {
        onEpochEnd: (epoch, logs) => {
          finalLoss = Number(logs?.loss);
          options.onEpoch?.(epoch, finalLoss);
        },
      },
    });
  } finally {
    inputs.dispose();
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
