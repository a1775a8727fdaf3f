/**
 * The benchmarks at a small size, as a smoke test that each one runs and reports sound numbers
 * (no timing is asserted: speed is for the full-size runs on a quiet machine). Their results go
 * to a temporary folder, not over the full-size results in bench/results.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './harness/processes.js';

const resultsDir = mkdtempSync(join(tmpdir(), 'vigil-bench-smoke-'));
const bench = (script: string, ...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', script), ...args], {
    cwd: ROOT,
    env: { ...process.env, VIGIL_BENCH_RESULTS_DIR: resultsDir },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 420_000,
  });
const result = <T>(name: string) => JSON.parse(readFileSync(join(resultsDir, `${name}.json`), 'utf8')) as T;

describe('benchmarks, small size', { timeout: 900_000 }, () => {
  it('bench:pipeline: every sample through, none lost; latency per stage', () => {
    const output = bench('pipeline.ts', '--mode', 'pipeline', '--samples', '4000', '--seconds', '3');
    assert.match(output, /samples\/s end to end, 0 lost/);
    const throughput = result<{ samples: number; lost: number; stages: Array<[string, number]> }>('pipeline-throughput');
    assert.equal(throughput.lost, 0);
    for (const [stage, ok] of throughput.stages) assert.equal(ok, 4000, `${stage} handled every sample`);
    const latency = result<{ stages: Record<string, { p50Ms: number; p99Ms: number }> }>('pipeline-latency');
    assert.deepEqual(Object.keys(latency.stages), ['preprocessor', 'inference', 'adaptive-threshold', 'alert-publisher']);
    for (const { p50Ms, p99Ms } of Object.values(latency.stages)) assert.ok(p50Ms > 0 && p99Ms >= p50Ms);
  });

  it('bench:memory: RSS, private and PSS per service, PSS below RSS', () => {
    bench('pipeline.ts', '--mode', 'memory', '--seconds', '3');
    const memory = result<{ services: Record<string, { rssMb: number; privateMb: number; pssMb: number }>; totals: { pssMb: number; rssMb: number } }>('memory');
    assert.equal(Object.keys(memory.services).length, 5);
    for (const [service, { rssMb, privateMb, pssMb }] of Object.entries(memory.services)) {
      assert.ok(privateMb > 0 && privateMb < pssMb && pssMb < rssMb, `${service}: private ${privateMb} < PSS ${pssMb} < RSS ${rssMb}`);
    }
    assert.ok(memory.totals.pssMb < memory.totals.rssMb);
    const integrations = result<{ integrations: Record<string, { rssMb: number }> }>('memory').integrations;
    assert.equal(Object.keys(integrations).length, 4, 'readers on the simulator and OPC UA, publishers without and with the integrations');
    for (const [name, { rssMb }] of Object.entries(integrations)) assert.ok(rssMb > 20, `${name}: ${rssMb} MB`);
  });

  it('bench:disk: bytes each process writes, extrapolated to a day', () => {
    const output = bench('disk-writes.ts', '--seconds', '5', '--warmup', '2');
    assert.match(output, /written MB\/day/);
    const disk = result<{ totalMbPerDay: number; processes: Record<string, { writtenMbPerDay: number; logsMbPerDay: number }> }>('disk-writes');
    assert.deepEqual(Object.keys(disk.processes).sort(), ['adaptive-threshold', 'alert-publisher', 'inference', 'mosquitto', 'preprocessor', 'prometheus', 'redis', 'sensor-reader']);
    assert.ok(Number.isFinite(disk.totalMbPerDay) && disk.totalMbPerDay >= 0);
  });

  it('bench:startup and soak run and account for every sample', () => {
    bench('pipeline.ts', '--mode', 'startup', '--runs', '1');
    assert.equal(Object.keys(result<{ services: object }>('startup').services).length, 5);
    bench('pipeline.ts', '--mode', 'soak', '--samples', '3000');
    const soak = result<{ lost: number; warmupSeconds: number; services: Array<[string, number]> }>('soak');
    assert.equal(soak.lost, 0);
    assert.ok(soak.warmupSeconds > 0);
    // Warm-up samples come on top of the measured 3,000.
    for (const [service, ok] of soak.services) assert.ok(ok >= 3000, `${service} handled ${ok} samples`);
  });

  it('bench:rate: CPU and context switches per service, with no traffic and at 10 Hz', () => {
    const output = bench('rate.ts', '--rates', '0,10', '--seconds', '2', '--runs', '1', '--settle', '1');
    assert.match(output, /no traffic/);
    const rate = result<{ byRate: Record<string, Record<string, { cpuPercent: number; switchesPerS: number }>> }>('rate');
    assert.deepEqual(Object.keys(rate.byRate), ['0', '10']);
    assert.equal(Object.keys(rate.byRate['0'] ?? {}).length, 4, 'no reader with no traffic');
    assert.equal(Object.keys(rate.byRate['10'] ?? {}).length, 5);
    for (const services of Object.values(rate.byRate)) {
      for (const [name, { cpuPercent, switchesPerS }] of Object.entries(services)) assert.ok(cpuPercent >= 0 && switchesPerS > 0, `${name}: ${cpuPercent} %, ${switchesPerS}/s`);
    }
  });

  it('bench:assets: a row per asset count, each asset decided with its own model, none lost', () => {
    const output = bench('assets.ts', '--assets', '1,3', '--seconds', '3', '--settle', '1');
    assert.match(output, /readings\/s/);
    const assets = result<{ results: Array<{ assets: number; readingsPerS: number; decided: number; lost: number; refused: number; pssTotalMb: number; p99Ms: number }> }>('assets');
    assert.deepEqual(assets.results.map((row) => [row.assets, row.readingsPerS]), [[1, 80], [3, 240]]);
    for (const row of assets.results) {
      // 10 Hz per asset over 3 s, give or take the window's edges.
      assert.ok(row.decided >= row.assets * 20, `${row.assets} assets: ${row.decided} decided`);
      assert.equal(row.lost, 0);
      assert.equal(row.refused, 0);
      assert.ok(row.pssTotalMb > 0 && row.p99Ms > 0);
    }
  });

  it('bench:models and bench:floor: a row per model, the transport floor', () => {
    const output = bench('models.ts', '--runs', '1', '--iterations', '400');
    assert.doesNotMatch(output, /not built yet/);
    const models = result<{ models: Array<{ name: string; measured: { batch1P50Us: number; modelBytes: number } | null }> }>('models');
    const measured = models.models.filter((model) => model.measured);
    assert.equal(measured.length, 7);
    for (const model of measured) assert.ok((model.measured?.batch1P50Us ?? 0) > 0 && (model.measured?.modelBytes ?? 0) > 0, model.name);
    const bytes = (name: string) => models.models.find((model) => model.name === name)?.measured?.modelBytes ?? 0;
    assert.ok(bytes('dense AE INT8') < bytes('dense AE FP32') / 3, 'INT8 weights about 4x smaller');
    assert.ok(bytes('conv AE INT8 (16 x 8 window)') < bytes('conv AE FP32 (16 x 8 window)') / 2, 'INT8 conv smaller');
    const detector = models.models.find((model) => model.name === 'default detector (8 channels)')?.measured;
    assert.ok(detector && detector.batch1P50Us > 0 && detector.modelBytes < 64 * 1024, 'the default detector: measured, a few KB');
    assert.match(output, /Learning the default detector from \d+ samples x 8 channels: \d+ ms/);
    assert.match(bench('transport-floor.ts', '--messages', '200'), /\| p50 ms \| p99 ms \| max ms \|/);
  });
});
