/** Small statistics and table helpers for the benchmarks (medians: this machine is noisy). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
