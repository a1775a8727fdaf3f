import { PumpSimulator } from './pump-simulator.js';
import type { Fault } from './faults.js';
import { sleepUntil, type EmitSample, type SampleSource } from './sample-source.js';

export interface SimulatorSourceOptions {
  asset: string;
  seed: number;
  rateHz: number;
  /** Simulated time runs this many times faster than the wall clock (tests, demos). */
  speed: number;
  schedule: Fault[];
  /** Repeat the schedule every this many simulated seconds (0: run it once). */
  repeatS: number;
  /** Stop after this many samples (0: run until stopped). */
  maxSamples: number;
}

/** Paces the pump simulator in real time (times `speed`); faults can be added while it runs. */
export class SimulatorSource implements SampleSource {
  readonly name = 'simulator';
  readonly simulator: PumpSimulator;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private nextRepeatS: number;
  private rateHz: number;

  constructor(private readonly options: SimulatorSourceOptions) {
    this.simulator = new PumpSimulator({ seed: options.seed, rateHz: options.rateHz });
    for (const fault of options.schedule) this.simulator.addFault(fault);
    this.nextRepeatS = options.repeatS;
    this.rateHz = options.rateHz;
  }

  async start(emit: EmitSample): Promise<void> {
    this.running = this.run(emit);
  }

  /** Starts a fault now (simulated time), for the POST /faults command. */
  injectNow(fault: Omit<Fault, 'startS'>): Fault {
    const scheduled = { ...fault, startS: this.simulator.timeS };
    this.simulator.addFault(scheduled);
    return scheduled;
  }

  /** A new sample rate, from the next sample on (the simulated physics follow: dt = 1/rate). */
  setRate(rateHz: number): void {
    this.rateHz = rateHz;
    this.simulator.setRate(rateHz);
  }

  private async run(emit: EmitSample): Promise<void> {
    const { speed, asset, maxSamples } = this.options;
    let nextDue = Date.now();
    // At high speeds a timer per sample would be the bottleneck: emit the samples that are due
    // in batches, then sleep until the next one is due.
    for (let count = 0; !this.abort.signal.aborted && (maxSamples === 0 || count < maxSamples); ) {
      while (nextDue <= Date.now() && (maxSamples === 0 || count < maxSamples)) {
        this.repeatScheduleIfDue();
        const reading = this.simulator.next();
        const accepted = emit({ asset, ts: Date.now(), channels: reading });
        if (accepted) await accepted;
        count += 1;
        nextDue += 1000 / (this.rateHz * speed);
      }
      // After a stall (a paused process, a starved CPU) catch up at most one second, not a flood.
      nextDue = Math.max(nextDue, Date.now() - 1000);
      await sleepUntil(nextDue, this.abort.signal);
    }
  }

  private repeatScheduleIfDue(): void {
    const { repeatS, schedule } = this.options;
    if (repeatS <= 0 || this.simulator.timeS < this.nextRepeatS) return;
    for (const fault of schedule) this.simulator.addFault({ ...fault, startS: fault.startS + this.nextRepeatS });
    this.nextRepeatS += repeatS;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
