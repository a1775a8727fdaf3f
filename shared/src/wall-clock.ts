/**
 * Wall-clock time in milliseconds with sub-millisecond resolution, for latencies measured across
 * processes (the reader stamps `ingestTs`, each stage subtracts it from its own clock).
 *
 * `Date.now()` follows the system clock (NTP steps it on a Pi without an RTC) but truncates to
 * whole milliseconds: at 100 Hz a 1 ms tick is most of a hop, so the stage-latency histogram
 * measured the tick, not the pipeline. `performance.now()` has microseconds but is monotonic from
 * process start and does not follow a clock step: two processes started on either side of an NTP
 * sync would disagree by the step. So: monotonic time plus an offset, kept honest by
 * `Date.now()`. The true wall time lies in [Date.now(), Date.now() + 1); whenever the estimate
 * falls outside that interval the offset moves just enough to bring it back. Each correction
 * narrows the offset's error, and a clock step is followed on the next call.
 */
export class WallClock {
  private offsetMs: number;

  constructor(
    private readonly monotonicMs: () => number = () => performance.now(),
    private readonly systemMs: () => number = Date.now,
  ) {
    // Middle of the first millisecond tick: at most 0.5 ms off until the first correction.
    this.offsetMs = this.systemMs() + 0.5 - this.monotonicMs();
  }

  now(): number {
    const monotonic = this.monotonicMs();
    const system = this.systemMs();
    const estimate = this.offsetMs + monotonic;
    if (estimate < system) {
      this.offsetMs += system - estimate;
    } else if (estimate >= system + 1) {
      // Just inside the tick's upper end (the interval is open there).
      this.offsetMs -= estimate - (system + 1) + 1e-6;
    }
    return this.offsetMs + monotonic;
  }
}

const processClock = new WallClock();

/** This process's sub-millisecond wall clock (see WallClock). */
export function preciseNowMs(): number {
  return processClock.now();
}
