/** Small statistics and table helpers for the benchmarks (medians: this machine is noisy). */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricSample } from '../test/harness/metrics.js';

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => String(row[i] ?? '').length)));
  const line = (row: Array<string | number>) => `| ${row.map((cell, i) => String(cell).padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...cells.map(line)].join('\n');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function machineDescription(): string {
  return `${process.platform}/${process.arch}, Node ${process.version}`;
}

/**
 * Where a benchmark writes its results: bench/results, or VIGIL_BENCH_RESULTS_DIR (the smoke test
 * runs the benchmarks at a small size and must not overwrite the full-size results).
 */
export function resultsFile(name: string): string {
  const dir = process.env.VIGIL_BENCH_RESULTS_DIR ?? fileURLToPath(new URL('results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** The interval the device's Prometheus scrapes every service at (prometheus/prometheus.yml as shipped), e.g. `15s`. */
export const SHIPPED_SCRAPE_INTERVAL = /^ {2}scrape_interval: (\d+s)$/m.exec(readFileSync(new URL('../prometheus/prometheus.yml', import.meta.url), 'utf8'))?.[1] ?? '15s';
export const SHIPPED_SCRAPE_INTERVAL_MS = Number.parseInt(SHIPPED_SCRAPE_INTERVAL, 10) * 1000;

/** Quantile from a Prometheus histogram, interpolating inside the bucket as histogram_quantile does. */
export function histogramQuantile(samples: MetricSample[], name: string, labels: Record<string, string>, q: number): number {
  const buckets = samples
    .filter((sample) => sample.name === `${name}_bucket` && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .map((sample) => ({ le: sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le), count: sample.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  const rank = q * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previous.le;
      const inBucket = bucket.count - previous.count;
      return previous.le + (bucket.le - previous.le) * (inBucket > 0 ? (rank - previous.count) / inBucket : 0);
    }
    previous = bucket;
  }
  return Number.NaN;
}
