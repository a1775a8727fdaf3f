/**
 * One measurement in a fresh process, so import cost and RSS are those of this runtime alone:
 *   node <bundled worker> <detector|runtime|int8|conv|conv-int8|iforest|tfjs> <bundle> <iterations>
 * Prints one JSON line.
 */
import { loadTfjsReference } from '../test/harness/tfjs-reference.js';

const [mode, bundleDir, iterationsText] = process.argv.slice(2) as [string, string, string];
const iterations = Number(iterationsText);
const rssBefore = process.memoryUsage().rss;
const importStart = performance.now();

/** 64 inputs of the model's width (24 features for the dense models, 16 x 8 for the conv one). */
let samples = inputsOfWidth(24);
function inputsOfWidth(width: number): number[][] {
  return Array.from({ length: 64 }, (_, i) => Array.from({ length: width }, (_, j) => Math.sin(i * 0.7 + j)));
}
const batch1: number[] = [];
const batch64: number[] = [];
let importMs: number;
let rssLoaded: number;
let modelBytes: number;

/** Times `predict` at batch 1 and per sample in batches of 64. */
function timePredict(predict: (input: number[]) => unknown): void {
  for (let i = 0; i < iterations; i += 1) {
    const input = samples[i % 64] as number[];
    const t0 = performance.now();
    predict(input);
    batch1.push(performance.now() - t0);
  }
  for (let i = 0; i < iterations / 16; i += 1) {
    const t0 = performance.now();
    for (const input of samples) predict(input);
    batch64.push((performance.now() - t0) / 64);
  }
}

if (mode === 'detector') {
  // The default detector's bundle, loaded and scored as the inference service does: one asset's
  // stream, its memory (course, shift, cycle) advancing with every sample.
  const { loadBundle, scorerForBundle } = await import('../shared/src/model/bundle.js');
  const bundle = await loadBundle(bundleDir);
  if (bundle.manifest.kind !== 'auto-detector') throw new Error(`mode detector needs the default detector's bundle, ${bundleDir} holds a ${bundle.manifest.kind}`);
  const scorer = scorerForBundle(bundle);
  samples = inputsOfWidth(bundle.inputSize);
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
  modelBytes = bundle.sizeBytes;
  timePredict((input) => scorer.score(input, 'pump-1'));
} else if (mode === 'runtime' || mode === 'int8' || mode === 'conv' || mode === 'conv-int8') {
  // The bundle as it ships, loaded as the inference service loads it (its precision is its own).
  const { loadBundle } = await import('../shared/src/model/bundle.js');
  const bundle = await loadBundle(bundleDir);
  const expected = mode.endsWith('int8') ? 'int8' : 'fp32';
  if (bundle.precision !== expected) throw new Error(`mode ${mode} needs an ${expected} bundle, ${bundleDir} is ${bundle.precision}`);
  if (mode.startsWith('conv') !== (bundle.manifest.kind === 'conv-autoencoder')) throw new Error(`mode ${mode} cannot run a ${bundle.manifest.kind} bundle`);
  const network = bundle.network;
  if (!network) throw new Error(`mode ${mode} runs an autoencoder; ${bundleDir} holds a ${bundle.manifest.kind}`);
  samples = inputsOfWidth(network.inputSize);
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
  modelBytes = bundle.sizeBytes;
  timePredict((input) => network.predict(input));
} else if (mode === 'iforest') {
  const { IsolationForest, DEFAULT_ISOLATION_FOREST_OPTIONS } = await import('../shared/src/model/isolation-forest.js');
  // Grown on 2,000 rows of the same width (its shape, not its data, sets the cost): 100 trees of
  // 256-row subsamples, as scikit-learn's defaults.
  let state = 7;
  const noise = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const rows = Array.from({ length: 2000 }, (_, i) => (samples[i % 64] as number[]).map((value) => value + 0.1 * noise()));
  const forest = IsolationForest.fit(rows, DEFAULT_ISOLATION_FOREST_OPTIONS);
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
  modelBytes = forest.sizeBytes;
  timePredict((input) => forest.score(input));
} else {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const model = await loadTfjsReference(tf, bundleDir);
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
  modelBytes = model.countParams() * 4;
  for (let i = 0; i < iterations; i += 1) {
    const input = samples[i % 64] as number[];
    const t0 = performance.now();
    tf.tidy(() => (model.predict(tf.tensor2d([input])) as import('@tensorflow/tfjs').Tensor).dataSync());
    batch1.push(performance.now() - t0);
  }
  for (let i = 0; i < iterations / 16; i += 1) {
    const t0 = performance.now();
    tf.tidy(() => (model.predict(tf.tensor2d(samples)) as import('@tensorflow/tfjs').Tensor).dataSync());
    batch64.push((performance.now() - t0) / 64);
  }
}
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] as number;
// Skip the first tenth: JIT warm-up is not what a long-running service sees.
const steady = (values: number[]) => values.slice(Math.floor(values.length / 10));
console.log(
  JSON.stringify({
    mode,
    importMs,
    rssBeforeMb: rssBefore / 2 ** 20,
    rssLoadedMb: rssLoaded / 2 ** 20,
    rssEndMb: process.memoryUsage().rss / 2 ** 20,
    modelBytes,
    batch1P50Us: quantile(steady(batch1), 0.5) * 1000,
    batch1P99Us: quantile(steady(batch1), 0.99) * 1000,
    batch64P50Us: quantile(steady(batch64), 0.5) * 1000,
    batch64P99Us: quantile(steady(batch64), 0.99) * 1000,
  }),
);
