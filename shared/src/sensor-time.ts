/**
 * Sensor time as it crosses a boundary. A gateway may send seconds, milliseconds, microseconds or
 * nanoseconds since the epoch, or garbage; what enters the pipeline is milliseconds inside
 * JavaScript's date range and a plausible window, or a counted refusal. Downstream code formats
 * times as ISO strings: a value past the date range would throw there, after the alarm it carried
 * had already been decided (the alert was lost to `Invalid time value`).
 */

/** The largest |ms| a JavaScript Date holds (100,000,000 days either side of 1970). */
export const DATE_RANGE_MS = 8.64e15;

/** Sensor time before this is not a reading from a working system (1990-01-01). */
export const EARLIEST_SENSOR_TIME_MS = Date.UTC(1990, 0, 1);
/** How far ahead of this device's clock a source's time may be: clocks drift, not by days. */
export const MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000;

export type SensorTimeRefusal = 'ts_not_number' | 'ts_out_of_range';

/** The plausible window: from `earliestMs` to `maxFutureMs` past this device's clock. */
export interface SensorTimeWindow {
  earliestMs: number;
  maxFutureMs: number;
}

export const DEFAULT_SENSOR_TIME_WINDOW: SensorTimeWindow = { earliestMs: EARLIEST_SENSOR_TIME_MS, maxFutureMs: MAX_FUTURE_SKEW_MS };

/**
 * Milliseconds since the epoch from a number in whatever unit its size says: below 1e11 seconds
 * (until the year 5138), below 1e14 milliseconds, below 1e17 microseconds, below 1e20 nanoseconds.
 * Then it must lie in the window: by default between 1990 and a day past `now`.
 */
export function normaliseSensorTime(
  value: unknown,
  now: number,
  window: SensorTimeWindow = DEFAULT_SENSOR_TIME_WINDOW,
): { ts: number } | { refused: SensorTimeRefusal; detail: string } {
  if (typeof value !== 'number' || !Number.isFinite(value)) return { refused: 'ts_not_number', detail: `ts ${String(value)} is not a finite number` };
  const magnitude = Math.abs(value);
  const ts = magnitude < 1e11 ? value * 1000 : magnitude < 1e14 ? value : magnitude < 1e17 ? value / 1e3 : magnitude < 1e20 ? value / 1e6 : Number.NaN;
  if (!(ts >= window.earliestMs && ts <= now + window.maxFutureMs)) {
    const from = new Date(window.earliestMs).toISOString().slice(0, 10);
    const ahead = window === DEFAULT_SENSOR_TIME_WINDOW ? 'a day' : `${Math.round(window.maxFutureMs / 1000)} s`;
    const between = window === DEFAULT_SENSOR_TIME_WINDOW ? '1990' : from;
    return { refused: 'ts_out_of_range', detail: `ts ${value} is not a time between ${between} and ${ahead} from now (as s, ms, µs or ns since 1970)` };
  }
  return { ts: Math.round(ts) };
}

/** An ISO string for a time that passed the envelope checks; never throws (null past the date range). */
export function isoTime(ts: number): string | null {
  return Number.isFinite(ts) && Math.abs(ts) <= DATE_RANGE_MS ? new Date(ts).toISOString() : null;
}
