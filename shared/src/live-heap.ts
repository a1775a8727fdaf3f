/**
 * The V8 heap still in use right after the last full (mark-compact) collection: what the process
 * really keeps. RSS follows the collector's sawtooth (V8 lets the old generation grow to about
 * twice what survives before it collects, and keeps the pages it freed for reuse), so between two
 * full GCs a healthy service's RSS rises by megabytes; this value does not. A leak shows here as a
 * line that keeps climbing from one collection to the next.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';

interface GcEntry extends PerformanceEntry {
  detail?: { kind?: number };
}

export function registerLiveHeapGauge(registry: Registry): void {
  const gauge = new Gauge({
    name: 'vigil_heap_live_bytes',
    help: 'V8 heap used right after the last full garbage collection (0 until the first one).',
    registers: [registry],
  });
  const observer = new PerformanceObserver((list) => {
    // The entry is delivered shortly after the collection; what was allocated in between is a
    // few KB against megabytes kept, so the reading is the heap that survived.
    if (list.getEntries().some((entry) => (entry as GcEntry).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
      gauge.set(getHeapStatistics().used_heap_size);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
