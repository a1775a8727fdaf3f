/**
 * One measurement in a fresh process, so import cost and RSS are those of this runtime alone:
 *   tsx bench/inference-worker.ts <runtime|tfjs> <bundle> <iterations>
 * Prints one JSON line.
 */
import { loadTfjsReference } from '../test/harness/tfjs-reference.js';

const [mode, bundleDir, iterationsText] = process.argv.slice(2) as [string, string, string];
const iterations = Number(iterationsText);
const rssBefore = process.memoryUsage().rss;
const importStart = performance.now();

const samples = Array.from({ length: 64 }, (_, i) => Array.from({ length: 24 }, (_, j) => Math.sin(i * 0.7 + j)));
const batch1: number[] = [];
const batch64: number[] = [];
let importMs: number;
let rssLoaded: number;

if (mode === 'runtime' || mode === 'int8') {
  const { loadBundle } = await import('../shared/src/model/bundle.js');
  const { Int8DenseNetwork } = await import('../shared/src/model/int8-network.js');
  const bundle = await loadBundle(bundleDir);
  // Calibration quality does not change speed: any 256 inputs of the right size will do here.
  const calibration = Array.from({ length: 256 }, (_, i) => samples[i % 64] as number[]);
  const network = mode === 'int8' ? Int8DenseNetwork.quantize(bundle.network, calibration) : bundle.network;
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
  for (let i = 0; i < iterations; i += 1) {
    const input = samples[i % 64] as number[];
    const t0 = performance.now();
    network.predict(input);
    batch1.push(performance.now() - t0);
  }
  for (let i = 0; i < iterations / 16; i += 1) {
    const t0 = performance.now();
    for (const input of samples) network.predict(input);
    batch64.push((performance.now() - t0) / 64);
  }
} else {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const model = await loadTfjsReference(tf, bundleDir);
  importMs = performance.now() - importStart;
  rssLoaded = process.memoryUsage().rss;
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
    batch1P50Us: quantile(steady(batch1), 0.5) * 1000,
    batch1P99Us: quantile(steady(batch1), 0.99) * 1000,
    batch64P50Us: quantile(steady(batch64), 0.5) * 1000,
    batch64P99Us: quantile(steady(batch64), 0.99) * 1000,
  }),
);
