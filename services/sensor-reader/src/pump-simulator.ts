/**
 * A centrifugal pump with eight correlated channels, named and scaled like the SKAB test rig:
 * a slowly varying hydraulic load drives current, pressure, flow and vibration together; the
 * motor heats with a thermal lag; the fluid temperature drifts slowly; the mains voltage sags a
 * little with current. Faults bend those relations the way the real ones do.
 */
import { PUMP_CHANNEL_NAMES, type PumpChannel } from '@vigil/shared/features';
import { SeededRandom } from '@vigil/shared/runtime';
import { channelsAffectedBy, SENSOR_FAULT_DEFAULT_CHANNEL, type Fault } from './faults.js';

export const PUMP_CHANNELS = PUMP_CHANNEL_NAMES;
export type { PumpChannel };
export type PumpReading = Record<PumpChannel, number>;

// Short enough that a few minutes of warm-up see the whole range of normal operation.
const LOAD_CYCLE_S = 120;
const MOTOR_THERMAL_TAU_S = 90;
/** The loop's water warms and cools slowly (a day in a plant, compressed to ten minutes). */
const FLUID_CYCLE_S = 600;
/** How long a fault takes to reach full strength: real faults grow, they do not switch on. */
const FAULT_RAMP_S = 10;

export interface PumpSimulatorOptions {
  seed: number;
  rateHz: number;
}

export class PumpSimulator {
  private readonly random: SeededRandom;
  private dtS: number;
  /** Time is counted in samples since the last rate change: summing dt would drift (0.1 + 0.1 …). */
  private samplesAtRate = 0;
  private rateChangedAtS = 0;
  private loadNoise = 0;
  private motorTemperature = 0;
  private readonly faults: Fault[] = [];
  private readonly stuckValues = new Map<string, number>();

  constructor(options: PumpSimulatorOptions) {
    this.random = new SeededRandom(options.seed);
    this.dtS = 1 / options.rateHz;
    this.motorTemperature = 50 + 15 * this.baseLoad(0);
  }

  /** Simulated seconds since start. */
  get timeS(): number {
    return this.rateChangedAtS + this.samplesAtRate * this.dtS;
  }

  /** Changes the sample rate from the next sample on; simulated time stays continuous. */
  setRate(rateHz: number): void {
    this.rateChangedAtS = this.timeS;
    this.samplesAtRate = 0;
    this.dtS = 1 / rateHz;
  }

  addFault(fault: Fault): void {
    // Faults that have ended are dropped here, so a repeating schedule or a long demo keeps a
    // short list.
    const now = this.timeS;
    for (let i = this.faults.length - 1; i >= 0; i--) {
      const old = this.faults[i];
      if (old && old.startS + old.durationS < now) this.faults.splice(i, 1);
    }
    this.faults.push(fault);
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.stuckValues.clear();
  }

  activeFaults(): Fault[] {
    return this.faults.filter((fault) => this.severity(fault) > 0);
  }

  scheduledFaults(): Fault[] {
    return this.faults.filter((fault) => fault.startS + fault.durationS > this.timeS);
  }

  next(): PumpReading {
    const t = this.timeS;
    this.samplesAtRate += 1;
    const gaussian = () => this.random.gaussian();

    // Ornstein-Uhlenbeck noise around a slow cycle: load changes smoothly, never steps.
    this.loadNoise += (-this.loadNoise / 30) * this.dtS + 0.01 * Math.sqrt(this.dtS) * gaussian();
    const load = this.baseLoad(t) + this.loadNoise;

    const wear = this.faultSeverity('bearing-wear', t);
    const cavitation = this.faultSeverity('cavitation', t);
    const leak = this.faultSeverity('leak', t);

    const current = 2.0 + 1.2 * load - 0.15 * leak + 0.05 * gaussian();
    const targetMotorTemperature = 50 + 15 * load + 8 * wear;
    this.motorTemperature += ((targetMotorTemperature - this.motorTemperature) * this.dtS) / MOTOR_THERMAL_TAU_S;
    const vibrationShared = gaussian();
    const vibrationNoise = 1 + 3 * cavitation;

    const reading: PumpReading = {
      vibration1: 0.025 + 0.004 * load + 0.02 * wear + 0.0015 * vibrationNoise * (0.6 * vibrationShared + 0.8 * gaussian()),
      vibration2: 0.03 + 0.005 * load + 0.015 * wear + 0.0015 * vibrationNoise * (0.6 * vibrationShared + 0.8 * gaussian()),
      current,
      pressure: 1.2 + 0.3 * load - 0.35 * cavitation - 0.3 * leak + 0.02 * (1 + 2 * cavitation) * gaussian(),
      motorTemperature: this.motorTemperature + 0.1 * gaussian(),
      fluidTemperature: 24 + 0.3 * Math.sin((2 * Math.PI * t) / FLUID_CYCLE_S) + 0.05 * gaussian(),
      voltage: 230 - 1.5 * current + 0.5 * gaussian(),
      flow: 32 * Math.sqrt(Math.max(load, 0.05)) - 4 * cavitation + 5 * leak + 0.3 * (1 + 4 * cavitation) * gaussian(),
    };
    this.applySensorFaults(reading, t);
    return reading;
  }

  private baseLoad(t: number): number {
    return 1 + 0.15 * Math.sin((2 * Math.PI * t) / LOAD_CYCLE_S);
  }

  private severity(fault: Fault, t = this.timeS): number {
    const elapsed = t - fault.startS;
    if (elapsed < 0 || elapsed >= fault.durationS) return 0;
    return Math.min(1, elapsed / FAULT_RAMP_S);
  }

  private faultSeverity(kind: Fault['kind'], t: number): number {
    let strongest = 0;
    for (const fault of this.faults) if (fault.kind === kind) strongest = Math.max(strongest, this.severity(fault, t));
    return strongest;
  }

  private applySensorFaults(reading: PumpReading, t: number): void {
    for (const fault of this.faults) {
      if (fault.kind !== 'sensor-stuck' && fault.kind !== 'sensor-spike') continue;
      const channel = (fault.channel ?? SENSOR_FAULT_DEFAULT_CHANNEL[fault.kind]) as PumpChannel;
      if (!(channel in reading)) continue;
      const key = `${fault.startS}:${channel}`;
      const active = t >= fault.startS && t < fault.startS + fault.durationS;
      if (!active) {
        this.stuckValues.delete(key);
        continue;
      }
      if (fault.kind === 'sensor-stuck') {
        if (!this.stuckValues.has(key)) this.stuckValues.set(key, reading[channel]);
        reading[channel] = this.stuckValues.get(key) as number;
      } else if (this.random.next() < 0.2) {
        // A loose connector: a fifth of the samples jump by a large fraction of full scale.
        reading[channel] *= 1 + (this.random.next() < 0.5 ? -0.5 : 0.8);
      }
    }
  }
}

export { channelsAffectedBy };
