/**
 * Child process of the inference service's learn mode: trains a bundle on the feature vectors
 * collected from the running pipeline and writes it atomically. TensorFlow.js lives here only,
 * so the service itself never carries it.
 *   node learn-worker.js <job.json>   job: { features, featureSpec, outDir, name, version, epochs }
 */
import { readFile } from 'node:fs/promises';
import { writeBundle, type FeatureSpec } from '@vigil/shared';
import { trainBundle } from './bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS, WEIGHTS_FILE } from './trainer.js';

interface LearnJob {
  features: number[][];
  featureSpec: FeatureSpec;
  outDir: string;
  name: string;
  version: string;
  epochs: number;
}

const job = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as LearnJob;
const trained = await trainBundle(job.features, {
  name: job.name,
  version: job.version,
  featureSettings: { ...job.featureSpec, limits: {}, policies: { missing: 'reject', non_finite: 'reject', out_of_range: 'reject' }, forwardFillLimit: 0 },
  train: { ...DEFAULT_TRAIN_OPTIONS, epochs: job.epochs },
});
await writeBundle(job.outDir, trained.manifest, trained.modelJson, { [WEIGHTS_FILE]: trained.weights });
process.stdout.write(`${JSON.stringify({ samples: trained.manifest.training.samples, loss: trained.manifest.training.finalLoss })}\n`);
