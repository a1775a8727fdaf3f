import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';
import { registerLiveHeapGauge } from './live-heap.js';
import { THROTTLE_FLAGS, readCpuTemperatureCelsius, readThrottledBits, type ThrottleFlag } from './sysfs.js';
import { preciseNowMs } from './wall-clock.js';

export { Counter, Gauge, Histogram, Registry };

/** Outcomes of a message at a stage. Reasons are a closed vocabulary so label sets stay bounded. */
export type MessageOutcome = 'ok' | 'rejected' | 'dropped' | 'imputed';

/** Buckets from 10 µs to 1 s: resolve a 9 µs forward pass and a 100 ms stall in one histogram. */
export const LATENCY_BUCKETS_SECONDS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

export interface ServiceMetrics {
  registry: Registry;
  messages: Counter<'stage' | 'outcome' | 'reason'>;
  stageLatency: Histogram<'stage'>;
  seqGaps: Counter<'stage'>;
  seqLost: Counter<'stage'>;
  connectionUp: Gauge<'peer'>;
  /** Pipe connections refused at the CURVE handshake: a peer without the pipeline key. */
  pipeRefused: Counter<'direction' | 'reason'>;
  countMessage(outcome: MessageOutcome, reason?: string): void;
  /** A message this stage finished: counted ok, and its latency from the reader observed. */
  completed(ingestTs: number): void;
}

/**
 * The metrics every service exposes: process memory and event-loop lag (prom-client defaults), the
 * heap that survives a full GC, per-stage message outcomes, stage latency from ingest, seq
 * accounting, connection state and, where the machine has them, CPU temperature and the Pi's
 * throttle flags.
 */
export function createServiceMetrics(stage: string, sysfsRoot: string, logger: Logger): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: stage });
  // The event-loop lag is sampled once a second, not every 20 ms: each sample is a timer that
  // wakes the process, and 50 wake-ups a second in each of five idle services were most of what
  // the stack cost doing nothing (npm run bench:rate). A stall still shows: the sample after it
  // is late by the stall.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1_000 });
  registerLiveHeapGauge(registry);

  const messages = new Counter({
    name: 'vigil_messages_total',
    help: 'Messages handled by a stage, by outcome (ok, rejected, dropped, imputed) and reason.',
    labelNames: ['stage', 'outcome', 'reason'] as const,
    registers: [registry],
  });
  const stageLatency = new Histogram({
    name: 'vigil_stage_latency_seconds',
    help: 'Time from the sensor-reader stamping a reading to this stage finishing it.',
    labelNames: ['stage'] as const,
    // Fine below 10 ms, where a healthy pipeline lives, so p50 and p99 can be read off it.
    buckets: [0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const seqGaps = new Counter({
    name: 'vigil_seq_gaps_total',
    help: 'Times a stage saw an asset\'s seq jump forward: messages were lost upstream.',
    labelNames: ['stage'] as const,
    registers: [registry],
  });
  const seqLost = new Counter({
    name: 'vigil_seq_lost_total',
    help: 'Messages missing from the seq sequence as seen by a stage (sum of gap sizes).',
    labelNames: ['stage'] as const,
    registers: [registry],
  });
  const connectionUp = new Gauge({
    name: 'vigil_connection_up',
    help: 'Whether the connection to a peer (redis, mqtt) is up: 1 up, 0 down.',
    labelNames: ['peer'] as const,
    registers: [registry],
  });

  const pipeRefused = new Counter({
    name: 'vigil_pipe_handshakes_refused_total',
    help: 'ZeroMQ connections refused at the handshake, on this stage\'s input (not_admitted: a sender knowing the input\'s public key but not holding the pipeline key, always counted; handshake_failed: no key or another, counted when this side notices first) or by the next stage (output).',
    labelNames: ['direction', 'reason'] as const,
    registers: [registry],
  });

  // Exported at 0 from the start, so a healthy stage shows "0 lost", not "no data".
  seqGaps.inc({ stage }, 0);
  seqLost.inc({ stage }, 0);
  messages.inc({ stage, outcome: 'ok', reason: 'none' }, 0);

  registerSysfsGauges(registry, sysfsRoot, logger);

  return {
    registry,
    messages,
    stageLatency,
    seqGaps,
    seqLost,
    connectionUp,
    pipeRefused,
    countMessage(outcome, reason = 'none') {
      messages.inc({ stage, outcome, reason });
    },
    completed(ingestTs) {
      messages.inc({ stage, outcome: 'ok', reason: 'none' });
      stageLatency.observe({ stage }, (preciseNowMs() - ingestTs) / 1000);
    },
  };
}

function registerSysfsGauges(registry: Registry, sysfsRoot: string, logger: Logger): void {
  // Absent rather than zero where there is no thermal zone: 0 °C would be a lie on a dashboard.
  if (readCpuTemperatureCelsius(sysfsRoot) === undefined) {
    logger.info({ sysfsRoot }, 'no CPU thermal zone found: vigil_cpu_temperature_celsius is not exported');
  } else {
    new Gauge({
      name: 'vigil_cpu_temperature_celsius',
      help: 'CPU temperature read from sysfs thermal_zone0.',
      registers: [registry],
      collect() {
        const celsius = readCpuTemperatureCelsius(sysfsRoot);
        if (celsius !== undefined) this.set(celsius);
      },
    });
  }
  if (readThrottledBits(sysfsRoot) !== undefined) {
    new Gauge({
      name: 'vigil_cpu_throttled',
      help: 'Raspberry Pi firmware throttle flags (get_throttled bits): 1 set, 0 clear.',
      labelNames: ['flag'] as const,
      registers: [registry],
      collect() {
        const bits = readThrottledBits(sysfsRoot);
        if (bits === undefined) return;
        for (const [flag, bit] of Object.entries(THROTTLE_FLAGS) as [ThrottleFlag, number][]) {
          this.set({ flag }, (bits >> bit) & 1);
        }
      },
    });
  }
}

/**
 * Tracks per-asset seq continuity at one stage. Loss anywhere upstream shows up here as a gap,
 * because seq is stamped once by the sensor-reader and never rewritten.
 */
const SEQ_RESET_DISTANCE = 100_000;
/** Assets whose seq is remembered; past it the longest-known is forgotten (stages bound their own assets lower). */
const MAX_TRACKED_ASSETS = 1_024;

export class SeqTracker {
  private readonly lastSeq = new Map<string, number>();

  constructor(
    private readonly metrics: ServiceMetrics,
    private readonly stage: string,
  ) {}

  /**
   * Returns false for a duplicate or a late (out-of-order) seq. A jump far backwards is a source
   * that restarted without its seq state (Redis wiped): accept it as a new run rather than
   * rejecting everything it sends from now on.
   */
  observe(asset: string, seq: number): boolean {
    const last = this.lastSeq.get(asset);
    if (last !== undefined) {
      if (seq <= last && last - seq < SEQ_RESET_DISTANCE) return false;
      if (seq > last + 1) {
        this.metrics.seqGaps.inc({ stage: this.stage });
        this.metrics.seqLost.inc({ stage: this.stage }, seq - last - 1);
      }
    } else if (this.lastSeq.size >= MAX_TRACKED_ASSETS) this.lastSeq.delete(this.lastSeq.keys().next().value as string);
    this.lastSeq.set(asset, seq);
    return true;
  }

  /** Drops an asset that gave up its slot; if it comes back, its first seq starts a new run. */
  forget(asset: string): void {
    this.lastSeq.delete(asset);
  }
}
