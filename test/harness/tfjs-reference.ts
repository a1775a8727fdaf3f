import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TensorFlow from '@tensorflow/tfjs';

/**
 * A bundle's network loaded by TensorFlow.js itself: the reference the lean runtime is compared
 * with. TensorFlow.js is passed in, not imported here, so a caller decides when it is loaded.
 */
export async function loadTfjsReference(tf: typeof TensorFlow, bundleDir: string): Promise<TensorFlow.LayersModel> {
  const modelJson = JSON.parse(await readFile(join(bundleDir, 'model.json'), 'utf8'));
  const weights = await readFile(join(bundleDir, 'weights.bin'));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
}
