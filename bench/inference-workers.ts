/**
 * Runs bench/inference-worker.ts in fresh processes, each measuring one model or runtime alone.
 * The worker runs as a bundled file under plain node, as the services do: a TypeScript loader
 * would add its own ~35 MB and import time to every row.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { median } from './stats.js';

export interface Measurement {
  mode: string;
  importMs: number;
  rssLoadedMb: number;
  /** Bytes of the model as it ships (the bundle's network files), or of the forest's nodes. */
  modelBytes: number;
  batch1P50Us: number;
  batch1P99Us: number;
  batch64P50Us: number;
  batch64P99Us: number;
}

export type Summary = Omit<Measurement, 'mode'>;

export const ROOT = new URL('..', import.meta.url).pathname;

export async function buildInferenceWorker(): Promise<string> {
  const workerFile = join(ROOT, 'bench/results/.inference-worker.mjs');
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'bench/inference-worker.ts')],
    outfile: workerFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@tensorflow/tfjs'],
    logLevel: 'warning',
  });
  return workerFile;
}

/**
 * `runs` fresh processes per mode, alternating modes so drift in the machine's load hits all alike.
 * `bundleDirs` names the bundle each mode loads (int8 an INT8 bundle, conv the conv autoencoder's,
 * detector the default detector's, the others the dense FP32 one).
 */
export function measureModes(
  workerFile: string,
  modes: string[],
  bundleDirs: { fp32: string; int8: string; conv?: string; convInt8?: string; detector?: string },
  runs: number,
  iterations: number,
): Record<string, Measurement[]> {
  const measurements: Record<string, Measurement[]> = Object.fromEntries(modes.map((mode) => [mode, []]));
  for (let run = 0; run < runs; run += 1) {
    for (const mode of modes) {
      const bundleDir = { int8: bundleDirs.int8, conv: bundleDirs.conv, 'conv-int8': bundleDirs.convInt8, detector: bundleDirs.detector }[mode] ?? bundleDirs.fp32;
      const output = execFileSync(process.execPath, [workerFile, mode, bundleDir, String(iterations)], { cwd: ROOT, encoding: 'utf8' });
      measurements[mode]?.push(JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Measurement);
    }
  }
  return measurements;
}

export function medians(list: Measurement[]): Summary {
  const pick = (key: keyof Summary) => median(list.map((m) => m[key]));
  return {
    batch1P50Us: pick('batch1P50Us'),
    batch1P99Us: pick('batch1P99Us'),
    batch64P50Us: pick('batch64P50Us'),
    batch64P99Us: pick('batch64P99Us'),
    importMs: pick('importMs'),
    rssLoadedMb: pick('rssLoadedMb'),
    modelBytes: pick('modelBytes'),
  };
}
