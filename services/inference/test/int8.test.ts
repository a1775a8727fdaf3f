import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Int8DenseNetwork, loadBundle, type LoadedBundle } from '@vigil/shared';
import { TEST_FEATURE_SETTINGS, trainTestBundle } from '../../../test/harness/model-fixture.js';
import { PumpSimulator } from '../../sensor-reader/src/pump-simulator.js';
import { featuresOfReadings } from '../src/bundle-builder.js';

function featuresOf(seed: number, samples: number, fault?: 'bearing-wear' | 'leak'): number[][] {
  const simulator = new PumpSimulator({ seed, rateHz: 10 });
  if (fault) simulator.addFault({ kind: fault, startS: 0, durationS: 10_000 });
  const readings = Array.from({ length: samples }, () => ({ ...simulator.next() }));
  return featuresOfReadings(readings, TEST_FEATURE_SETTINGS).features;
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
  let bundle: LoadedBundle;
  let calibration: number[][];
  let evaluation: number[][];

  before(async () => {
    bundle = await loadBundle(await trainTestBundle());
    calibration = featuresOf(101, 1500).slice(0, 300);
    evaluation = [...featuresOf(202, 1800).slice(0, 400), ...featuresOf(303, 1700, 'bearing-wear').slice(0, 200), ...featuresOf(404, 1700, 'leak').slice(0, 200)];
  });

  let normal: number[][];
  let faulty: number[][];

  /** How the INT8 model compares: correlation of log scores, and faults caught above the normal p99. */
  const compare = (int8: Int8DenseNetwork) => {
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
    const result = compare(Int8DenseNetwork.quantize(bundle.network, calibration));
    assert.ok(result.correlation > 0.9, `log-score correlation ${result.correlation}`);
    assert.ok(result.caughtFp32 > 0.1, 'the faulty samples stand out for the FP32 model');
    assert.ok(Math.abs(result.caughtInt8 - result.caughtFp32) < 0.1, `faults caught: FP32 ${result.caughtFp32}, INT8 ${result.caughtInt8}`);
  });

  it('without calibration the output is garbage', () => {
    const result = compare(Int8DenseNetwork.quantize(bundle.network, 'uncalibrated'));
    assert.ok(result.correlation < 0.5, `log-score correlation ${result.correlation}`);
    assert.ok(result.caughtInt8 < result.caughtFp32 / 2, `faults caught: FP32 ${result.caughtFp32}, INT8 ${result.caughtInt8}`);
  });

  it('holds the weights in about a quarter of the bytes, and refuses too small a calibration set', () => {
    const int8 = Int8DenseNetwork.quantize(bundle.network, calibration);
    assert.ok(bundle.network.weightBytes / int8.weightBytes > 3, `${bundle.network.weightBytes} vs ${int8.weightBytes} bytes`);
    assert.throws(() => Int8DenseNetwork.quantize(bundle.network, calibration.slice(0, 50)), /at least 200/);
  });
});
