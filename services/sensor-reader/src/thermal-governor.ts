/**
 * Thermal governor: a Pi that runs hot throttles its CPU on its own, erratically. Better to slow
 * down on purpose: above the soft limit the sample rate steps down (each check, by `stepFactor`,
 * to at least `minRateHz`); once the CPU is `hysteresisC` below the limit it steps back up to the
 * configured rate. Between the two it holds, so the rate does not flap around the limit.
 */
export interface ThermalSettings {
  softLimitC: number;
  hysteresisC: number;
  stepFactor: number;
  minRateHz: number;
}

export type RateReason = 'configured' | 'thermal';

export interface RateDecision {
  rateHz: number;
  reason: RateReason;
}

/** One step of the governor: the next rate given the current one and the CPU temperature. */
export function nextRate(settings: ThermalSettings, targetHz: number, currentHz: number, temperatureC: number | undefined): RateDecision {
  if (temperatureC === undefined) return { rateHz: currentHz, reason: currentHz < targetHz ? 'thermal' : 'configured' };
  let rateHz = currentHz;
  if (temperatureC > settings.softLimitC) {
    rateHz = Math.max(Math.min(settings.minRateHz, targetHz), currentHz * settings.stepFactor);
  } else if (temperatureC < settings.softLimitC - settings.hysteresisC && currentHz < targetHz) {
    rateHz = Math.min(targetHz, currentHz / settings.stepFactor);
  }
  return { rateHz, reason: rateHz < targetHz ? 'thermal' : 'configured' };
}

export class ThermalGovernor {
  private currentHz: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: ThermalSettings,
    private readonly targetHz: number,
    private readonly readTemperature: () => number | undefined,
    private readonly apply: (decision: RateDecision, temperatureC: number | undefined) => void,
  ) {
    this.currentHz = targetHz;
  }

  get rateHz(): number {
    return this.currentHz;
  }

  check(): RateDecision {
    const temperatureC = this.readTemperature();
    const decision = nextRate(this.settings, this.targetHz, this.currentHz, temperatureC);
    if (decision.rateHz !== this.currentHz) {
      this.currentHz = decision.rateHz;
      this.apply(decision, temperatureC);
    }
    return decision;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.check(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
