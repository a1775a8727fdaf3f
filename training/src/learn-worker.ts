/**
 * Child process of the inference service's learn mode: trains a bundle on the feature vectors
 * collected from the running pipeline and writes it atomically. TensorFlow.js lives here only,
 * so the service itself never carries it.
 *   node learn-worker.js <job.json>   job: { features, timestamps, featureSpec, outDir, name, version, epochs, precision, kind }
 */
import { readFile } from 'node:fs/promises';
import { MODEL_KINDS, MODEL_PRECISIONS, writeBundle, type ModelKind, type ModelPrecision } from '@vigil/shared/model';
import { type FeatureSpec } from '@vigil/shared/features';
import { trainBundle } from './bundle-builder.js';
import { DEFAULT_TRAIN_OPTIONS } from './trainer.js';

interface LearnJob {
  features: number[][];
  timestamps?: number[];
  featureSpec: FeatureSpec;
  outDir: string;
  name: string;
  version: string;
  epochs: number;
  precision: ModelPrecision;
  kind: ModelKind;
}

const job = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as LearnJob;
if (!MODEL_KINDS.includes(job.kind)) throw new Error(`job kind ${String(job.kind)} is not one of ${MODEL_KINDS.join(', ')}`);
if (!MODEL_PRECISIONS.includes(job.precision)) throw new Error(`job precision ${String(job.precision)} is not one of ${MODEL_PRECISIONS.join(', ')}`);
const trained = await trainBundle(job.features, {
  name: job.name,
  version: job.version,
  featureSettings: { ...job.featureSpec, limits: {}, policies: { missing: 'reject', non_finite: 'reject', out_of_range: 'reject' }, forwardFillLimit: 0 },
  train: { ...DEFAULT_TRAIN_OPTIONS, epochs: job.epochs },
  precision: job.precision,
  kind: job.kind,
  ...(job.timestamps ? { timestamps: job.timestamps } : {}),
});
await writeBundle(job.outDir, trained.manifest, trained.files);
const sizeBytes = Object.values(trained.files).reduce((total, content) => total + (typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength), 0);
process.stdout.write(
  `${JSON.stringify({ samples: trained.manifest.training.samples, loss: trained.manifest.training.finalLoss, precision: job.precision, sizeBytes })}\n`,
);
