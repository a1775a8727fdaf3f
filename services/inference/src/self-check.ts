/**
 * Proves that this build runs on this machine's CPU, end to end, with no network and no data:
 * learns the default detector in the learn worker, trains a small autoencoder there (TensorFlow.js)
 * and quantizes it to INT8, loads both bundles with the lean runtime, scores a sample with each, and
 * sends a message through a ZeroMQ socket (the native addon).
 * Run inside an image built for another architecture (arm64 under emulation) it catches a native
 * module or an x86-only dependency before a Pi does.
 *   node dist/self-check.js        prints one JSON line; exit 0 when every step passed
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FEATURE_SPEC, valuesPerChannel } from '@vigil/shared/features';
import { loadBundle, scorerForBundle } from '@vigil/shared/model';
import { runLearnWorker } from './learner.js';

/** Feature vectors of a smooth, slightly noisy process: enough for the autoencoder to learn. */
function syntheticFeatures(samples: number, width: number): number[][] {
  let state = 12345;
  const noise = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  };
  return Array.from({ length: samples }, (_, i) =>
    Array.from({ length: width }, (_, j) => Math.sin(i / 25 + j) + 0.1 * noise()),
  );
}

async function zeromqRoundTrip(): Promise<string> {
  const zmq = await import('zeromq');
  const pull = new zmq.Pull();
  const push = new zmq.Push();
  try {
    await pull.bind('inproc://self-check');
    push.connect('inproc://self-check');
    await push.send('ping');
    const [frame] = await pull.receive();
    return String(frame);
  } finally {
    push.close();
    pull.close();
  }
}

const started = Date.now();
const dir = await mkdtemp(join(tmpdir(), 'vigil-self-check-'));
const steps: Record<string, unknown> = { arch: arch(), node: process.version };
try {
  const featureSpec = DEFAULT_FEATURE_SPEC;
  const width = featureSpec.channels.length * valuesPerChannel(featureSpec.features, featureSpec.windowSize);
  const modelPath = join(dir, 'model');
  const jobPath = join(dir, 'job.json');
  const job = { features: syntheticFeatures(400, width), featureSpec, outDir: modelPath, name: 'self-check', version: '0', epochs: 2, precision: 'int8', kind: 'dense-autoencoder' };
  await writeFile(jobPath, JSON.stringify(job));
  steps.training = JSON.parse(await runLearnWorker(jobPath)) as unknown;

  const bundle = await loadBundle(modelPath);
  const { manifest } = bundle;
  if (bundle.precision !== 'int8' || manifest.kind !== 'dense-autoencoder') throw new Error(`learn worker shipped ${manifest.kind} ${bundle.precision}, expected an int8 dense-autoencoder`);
  const scorer = scorerForBundle(bundle);
  const score = scorer.score(job.features[0] as number[]).score;
  if (!Number.isFinite(score)) throw new Error(`score is ${score}`);
  steps.score = score;

  // The default detector, as learn mode builds it on no settings: from feature vectors and their times.
  const detectorPath = join(dir, 'detector');
  const detectorJob = { ...job, outDir: detectorPath, name: 'self-check-detector', precision: 'fp32', kind: 'auto-detector', timestamps: job.features.map((_, i) => i * 100) };
  await writeFile(jobPath, JSON.stringify(detectorJob));
  await runLearnWorker(jobPath);
  const detector = await loadBundle(detectorPath);
  if (detector.manifest.kind !== 'auto-detector') throw new Error(`learn worker shipped ${detector.manifest.kind}, expected the auto-detector`);
  const surprise = scorerForBundle(detector).score(job.features[0] as number[], 'self-check').score;
  if (!Number.isFinite(surprise)) throw new Error(`surprise is ${surprise}`);
  steps.detector = { surprise, sizeBytes: detector.sizeBytes };

  steps.zeromq = await zeromqRoundTrip();
  if (steps.zeromq !== 'ping') throw new Error(`zeromq returned ${String(steps.zeromq)}`);
  process.stdout.write(`${JSON.stringify({ ok: true, ...steps, ms: Date.now() - started })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, ...steps, error: error instanceof Error ? error.message : String(error) })}\n`);
  process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
