/** What every source hands the reader: one timestamped set of channel values for an asset. */
export interface RawSample {
  asset: string;
  /** Sensor time, ms since epoch. */
  ts: number;
  /** NaN and ±Infinity are allowed here: the preprocessor decides what to do with them. */
  channels: Record<string, number>;
}

/**
 * Hands a sample on. Returns a promise when the output applies backpressure (the `block` policy):
 * a source that can wait (a file, a simulator, a poll) awaits it; an event-driven one cannot.
 */
export type EmitSample = (sample: RawSample) => void | Promise<unknown>;

/** Counts input a source had to refuse (a malformed CSV row, an MQTT payload that is not JSON). */
export type RejectInput = (reason: SourceRejectReason, detail: string) => void;

export type SourceRejectReason =
  | 'csv_row'
  | 'csv_time'
  | 'mqtt_payload'
  /** A sample lost: the link down or being re-opened, or no register read in a poll. */
  | 'modbus_read'
  /** A read the device refused with an exception response: its channels went out missing. */
  | 'modbus_exception'
  /** A read not answered in time: its channels went out missing. */
  | 'modbus_timeout'
  /** A sample lost: the OPC UA server not connected. */
  | 'opcua_down'
  /** A value whose status is not Good (or an item the server refused): its channel went out missing. */
  | 'opcua_status'
  /** A value that is not a number: its channel went out missing. */
  | 'opcua_value';

export interface SampleSource {
  readonly name: string;
  start(emit: EmitSample, reject: RejectInput): Promise<void>;
  stop(): Promise<void>;
  /** Sources that pace themselves (simulator, Modbus polling) can be slowed by the thermal governor. */
  setRate?(rateHz: number): void;
}

/** Sleeps until a wall-clock deadline, so a paced loop keeps its rate instead of accumulating drift. */
export function sleepUntil(deadlineMs: number, signal: AbortSignal): Promise<void> {
  const delay = Math.max(0, deadlineMs - Date.now());
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, delay);
    function done() {
      signal.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
