import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  ConvNetwork,
  DenseNetwork,
  Int8Network,
  INT8_MODEL_FILE,
  INT8_WEIGHTS_FILE,
  loadBundle,
  ModelFormatError,
  networkOf,
  type LoadedBundle,
} from '@vigil/shared/model';
import { CONV_TEST_FEATURE_SETTINGS, TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { PumpSimulator } from '../../sensor-reader/src/pump-simulator.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';

function featuresOf(seed: number, samples: number, fault?: 'bearing-wear' | 'leak'): number[][] {
  const simulator = new PumpSimulator({ seed, rateHz: 10 });
  if (fault) simulator.addFault({ kind: fault, startS: 0, durationS: 10_000 });
  const readings = Array.from({ length: samples }, () => ({ ...simulator.next() }));
  // From the first reading after the scaler's warm-up, as the service scores them (the warm-up
  // readings themselves become features too when training reuses them).
  const { scalerWarmup, windowSize } = TEST_FEATURE_SETTINGS;
  return featuresOfReadings(readings, TEST_FEATURE_SETTINGS).features.slice(scalerWarmup - (windowSize - 1));
}

/** The service's score: squared reconstruction error in units of each feature's normal error. */
function score(predict: (x: number[]) => Float32Array, features: number[], residualScale: number[]): number {
  const output = predict(features);
  return features.reduce((sum, value, i) => sum + ((value - (output[i] as number)) / (residualScale[i] as number)) ** 2, 0) / features.length;
}

function correlation(a: number[], b: number[]): number {
  const meanA = a.reduce((sum, v) => sum + v, 0) / a.length;
  const meanB = b.reduce((sum, v) => sum + v, 0) / b.length;
  let covariance = 0;
  let varianceA = 0;
  let varianceB = 0;
  a.forEach((v, i) => {
    covariance += (v - meanA) * ((b[i] as number) - meanB);
    varianceA += (v - meanA) ** 2;
    varianceB += ((b[i] as number) - meanB) ** 2;
  });
  return covariance / Math.sqrt(varianceA * varianceB);
}

describe('INT8 quantization', () => {
  let bundle: LoadedBundle & { network: DenseNetwork };
  let calibration: number[][];
  let evaluation: number[][];

  before(async () => {
    const loaded = await loadBundle(await trainTestBundle());
    assert.ok(loaded.network instanceof DenseNetwork, 'the fixture bundle is FP32');
    bundle = loaded as LoadedBundle & { network: DenseNetwork };
    calibration = featuresOf(101, 1500).slice(0, 300);
    evaluation = [...featuresOf(202, 1800).slice(0, 400), ...featuresOf(303, 1700, 'bearing-wear').slice(0, 200), ...featuresOf(404, 1700, 'leak').slice(0, 200)];
  });

  let normal: number[][];
  let faulty: number[][];

  /** How the INT8 model compares: correlation of log scores, and faults caught above the normal p99. */
  const compare = (int8: Int8Network) => {
    const scale = bundle.manifest.training.residualScale;
    const fp32 = (x: number[]) => bundle.network.predict(x);
    const quantized = (x: number[]) => int8.predict(x);
    const caught = (predict: (x: number[]) => Float32Array) => {
      const normalScores = normal.map((x) => score(predict, x, scale)).sort((a, b) => a - b);
      const p99 = normalScores[Math.floor(0.99 * normalScores.length)] as number;
      return faulty.filter((x) => score(predict, x, scale) > p99).length / faulty.length;
    };
    return {
      correlation: correlation(evaluation.map((x) => Math.log(score(fp32, x, scale))), evaluation.map((x) => Math.log(score(quantized, x, scale)))),
      caughtFp32: caught(fp32),
      caughtInt8: caught(quantized),
    };
  };

  it('calibrated on 300 real normal samples, tracks the FP32 model on normal and faulty data', () => {
    normal = evaluation.slice(0, 400);
    faulty = evaluation.slice(400);
    const result = compare(Int8Network.quantize(bundle.network, calibration));
    assert.ok(result.correlation > 0.9, `log-score correlation ${result.correlation}`);
    assert.ok(result.caughtFp32 > 0.1, 'the faulty samples stand out for the FP32 model');
    assert.ok(Math.abs(result.caughtInt8 - result.caughtFp32) < 0.1, `faults caught: FP32 ${result.caughtFp32}, INT8 ${result.caughtInt8}`);
  });

  it('computes an input beyond the calibrated range in float instead of clipping it', () => {
    const int8 = Int8Network.quantize(bundle.network, calibration);
    const far = (evaluation[0] as number[]).map((value, i) => (i === 0 ? value + 40 : value));
    const expected = Array.from(bundle.network.predict(far));
    const got = Array.from(int8.predict(far));
    const error = Math.sqrt(got.reduce((sum, value, i) => sum + (value - (expected[i] as number)) ** 2, 0) / got.length);
    const spread = Math.sqrt(expected.reduce((sum, value) => sum + value ** 2, 0) / expected.length);
    assert.ok(int8.outlierCount > 0, 'the shifted feature took the float path');
    assert.ok(error < 0.05 * spread, `rms difference ${error} for outputs of rms ${spread}`);
  });

  it('without calibration the output is garbage', () => {
    const result = compare(Int8Network.quantize(bundle.network, 'uncalibrated'));
    assert.ok(result.correlation < 0.5, `log-score correlation ${result.correlation}`);
    assert.ok(result.caughtInt8 < result.caughtFp32 / 2, `faults caught: FP32 ${result.caughtFp32}, INT8 ${result.caughtInt8}`);
  });

  it('holds the weights in about a quarter of the bytes, and refuses too small a calibration set', () => {
    const int8 = Int8Network.quantize(bundle.network, calibration);
    assert.ok(bundle.network.weightBytes / int8.weightBytes > 3, `${bundle.network.weightBytes} vs ${int8.weightBytes} bytes`);
    assert.throws(() => Int8Network.quantize(bundle.network, calibration.slice(0, 50)), /at least 200/);
  });

  it('ships as int8 files that load back to the very same network', () => {
    const int8 = Int8Network.quantize(bundle.network, calibration);
    const { model, weights } = int8.toArtifacts();
    const reloaded = Int8Network.fromArtifacts(JSON.parse(JSON.stringify(model)), weights);
    for (const input of evaluation) assert.deepEqual(Array.from(reloaded.predict(input)), Array.from(int8.predict(input)));
    assert.throws(() => Int8Network.fromArtifacts(model, weights.subarray(0, weights.length - 4)), /shorter than/);
    assert.throws(() => Int8Network.fromArtifacts({ ...model, layers: model.layers.map((layer) => ({ ...layer, inputScale: 0 })) }, weights), /calibrated input scale/);
    assert.throws(() => Int8Network.fromArtifacts({ ...model, format: 'other' }, weights), ModelFormatError);
  });
});

describe('an INT8 bundle, as learn mode and npm run train ship it', () => {
  let fp32Dir: string;
  let int8Dir: string;

  before(async () => {
    fp32Dir = await trainTestBundle();
    int8Dir = await trainTestBundle({ precision: 'int8' });
  });

  it('is about a quarter of the FP32 bundle on disk, records its precision and calibration, and loads as INT8', async () => {
    const fileBytes = async (dir: string, files: string[]) => (await Promise.all(files.map(async (file) => (await stat(join(dir, file))).size))).reduce((a, b) => a + b, 0);
    const fp32Bytes = await fileBytes(fp32Dir, ['model.json', 'weights.bin']);
    const int8Bytes = await fileBytes(int8Dir, [INT8_MODEL_FILE, INT8_WEIGHTS_FILE]);
    const weightRatio = (await stat(join(fp32Dir, 'weights.bin'))).size / (await stat(join(int8Dir, INT8_WEIGHTS_FILE))).size;
    assert.ok(weightRatio > 3.3, `weights: FP32 / INT8 = ${weightRatio}`);
    assert.ok(fp32Bytes / int8Bytes > 2.5, `network files: FP32 ${fp32Bytes} B, INT8 ${int8Bytes} B`);

    const loaded = await loadBundle(int8Dir);
    assert.equal(loaded.manifest.precision, 'int8');
    assert.ok((loaded.manifest.calibrationSamples ?? 0) >= 200);
    assert.equal(networkOf(loaded).precision, 'int8');
    assert.equal(loaded.sizeBytes, int8Bytes);
  });

  it('detects the simulated faults it has never seen about as well as the FP32 bundle', async () => {
    const detection = async (dir: string) => {
      const loaded = await loadBundle(dir);
      const { manifest } = loaded;
      const network = networkOf(loaded);
      const scale = manifest.training.residualScale;
      const normalScores = featuresOf(505, 2500).map((x) => score((v) => network.predict(v), x, scale)).sort((a, b) => a - b);
      const p99 = normalScores[Math.floor(0.99 * normalScores.length)] as number;
      // Faults that begin once the scaler has learned (120 s at 10 Hz), as they do in service.
      const faultAfterWarmup = (seed: number, kind: 'bearing-wear' | 'leak') => {
        const simulator = new PumpSimulator({ seed, rateHz: 10 });
        simulator.addFault({ kind, startS: 120, durationS: 10_000 });
        return featuresOfReadings(Array.from({ length: 2400 }, () => ({ ...simulator.next() })), TEST_FEATURE_SETTINGS).features;
      };
      const faulty = [...faultAfterWarmup(606, 'bearing-wear'), ...faultAfterWarmup(707, 'leak')];
      return faulty.filter((x) => score((v) => network.predict(v), x, scale) > p99).length / faulty.length;
    };
    const [fp32, int8] = [await detection(fp32Dir), await detection(int8Dir)];
    assert.ok(fp32 > 0.3, `FP32 catches ${fp32}`);
    assert.ok(int8 > fp32 - 0.1, `faulty samples above the normal p99: FP32 ${fp32}, INT8 ${int8}`);
  });

  it('is refused with a reason when its int8 files are damaged', async () => {
    const damaged = await mkdtemp(join(tmpdir(), 'vigil-int8-damaged-'));
    await cp(int8Dir, damaged, { recursive: true });
    const weights = await readFile(join(damaged, INT8_WEIGHTS_FILE));
    await writeFile(join(damaged, INT8_WEIGHTS_FILE), weights.subarray(0, 100));
    await assert.rejects(loadBundle(damaged), (error: Error) => error instanceof ModelFormatError && /shorter than/.test(error.message));
    await writeFile(join(damaged, INT8_MODEL_FILE), '{"format":');
    await assert.rejects(loadBundle(damaged), /model.int8.json is not JSON/);
    const manifest = JSON.parse(await readFile(join(damaged, 'bundle.json'), 'utf8'));
    await writeFile(join(damaged, 'bundle.json'), JSON.stringify({ ...manifest, precision: 'int4' }));
    await assert.rejects(loadBundle(damaged), /precision int4 is not one of fp32, int8/);
  });
});

describe('INT8 conv autoencoder', () => {
  it('calibrated on 300 real windows, tracks the FP32 conv model and ships as the same network', async () => {
    const convDir = await trainTestBundle({ kind: 'conv-autoencoder', samples: 4000, epochs: 4 });
    const { network, manifest } = await loadBundle(convDir);
    assert.ok(network instanceof ConvNetwork);
    const windows = (seed: number, samples: number, fault?: 'bearing-wear' | 'leak') => {
      const simulator = new PumpSimulator({ seed, rateHz: 10 });
      if (fault) simulator.addFault({ kind: fault, startS: 120, durationS: 10_000 });
      return featuresOfReadings(Array.from({ length: samples }, () => ({ ...simulator.next() })), CONV_TEST_FEATURE_SETTINGS).features;
    };
    const int8 = Int8Network.quantize(network, windows(111, 1600).slice(0, 300));
    const scale = manifest.training.residualScale;
    const evaluation = [...windows(222, 1700).slice(0, 300), ...windows(333, 1700, 'bearing-wear').slice(200, 400), ...windows(444, 1700, 'leak').slice(200, 400)];
    const fp32Scores = evaluation.map((x) => Math.log(score((v) => network.predict(v), x, scale)));
    const int8Scores = evaluation.map((x) => Math.log(score((v) => int8.predict(v), x, scale)));
    assert.ok(correlation(fp32Scores, int8Scores) > 0.9, `log-score correlation ${correlation(fp32Scores, int8Scores)}`);
    const { model, weights } = int8.toArtifacts();
    const reloaded = Int8Network.fromArtifacts(JSON.parse(JSON.stringify(model)), weights);
    for (const input of evaluation.slice(0, 50)) assert.deepEqual(Array.from(reloaded.predict(input)), Array.from(int8.predict(input)));
    assert.ok(network.weightBytes / int8.weightBytes > 3, `${network.weightBytes} vs ${int8.weightBytes} bytes`);
  });
});
