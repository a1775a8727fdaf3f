import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Raspberry Pi firmware throttle bits (vcgencmd get_throttled), the ones an operator acts on. */
export const THROTTLE_FLAGS = {
  under_voltage: 0,
  frequency_capped: 1,
  throttled: 2,
  soft_temperature_limit: 3,
  under_voltage_occurred: 16,
  frequency_capped_occurred: 17,
  throttled_occurred: 18,
  soft_temperature_limit_occurred: 19,
} as const;

export type ThrottleFlag = keyof typeof THROTTLE_FLAGS;

export function thermalZonePath(sysfsRoot: string): string {
  return join(sysfsRoot, 'class/thermal/thermal_zone0/temp');
}

export function throttledPath(sysfsRoot: string): string {
  return join(sysfsRoot, 'devices/platform/soc/soc:firmware/get_throttled');
}

/** CPU temperature in °C, or undefined where the machine has no thermal zone (a VM, a CI box). */
export function readCpuTemperatureCelsius(sysfsRoot: string): number | undefined {
  try {
    const milliCelsius = Number.parseInt(readFileSync(thermalZonePath(sysfsRoot), 'utf8').trim(), 10);
    return Number.isFinite(milliCelsius) ? milliCelsius / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The throttle bit field, or undefined where the firmware file does not exist (not a Pi). */
export function readThrottledBits(sysfsRoot: string): number | undefined {
  try {
    const text = readFileSync(throttledPath(sysfsRoot), 'utf8').trim();
    const bits = Number.parseInt(text, text.startsWith('0x') ? 16 : 10);
    return Number.isFinite(bits) ? bits : undefined;
  } catch {
    return undefined;
  }
}
