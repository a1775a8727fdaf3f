/**
 * Faults the simulator can inject, on a schedule or on command. Each fault names the channels it
 * moves, so a test (or an operator trying the product) can check the detector blames the right
 * sensors.
 */
export const FAULT_KINDS = ['bearing-wear', 'cavitation', 'leak', 'sensor-stuck', 'sensor-spike'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** Simulated seconds since the simulator started. */
  startS: number;
  durationS: number;
  /** For sensor faults: which channel misbehaves. */
  channel?: string;
}

export const SENSOR_FAULT_DEFAULT_CHANNEL: Record<'sensor-stuck' | 'sensor-spike', string> = {
  'sensor-stuck': 'pressure',
  'sensor-spike': 'current',
};

/** Channels each fault moves most; the detector's top contributors should include one of them. */
export function channelsAffectedBy(fault: Pick<Fault, 'kind' | 'channel'>): string[] {
  switch (fault.kind) {
    case 'bearing-wear':
      return ['vibration1', 'vibration2', 'motorTemperature'];
    case 'cavitation':
      return ['pressure', 'flow', 'vibration1', 'vibration2'];
    case 'leak':
      return ['pressure', 'flow', 'current'];
    case 'sensor-stuck':
    case 'sensor-spike':
      return [fault.channel ?? SENSOR_FAULT_DEFAULT_CHANNEL[fault.kind]];
  }
}

export function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === 'string' && (FAULT_KINDS as readonly string[]).includes(value);
}

/**
 * Parses a schedule such as `bearing-wear@60+120, sensor-stuck:flow@300+30`:
 * kind[:channel]@startSeconds+durationSeconds, comma-separated. Throws with the bad entry named.
 */
export function parseFaultSchedule(text: string): Fault[] {
  const faults: Fault[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^([a-z-]+)(?::([A-Za-z0-9_.-]+))?@(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) throw new Error(`fault "${entry}" is not kind[:channel]@start+duration (seconds)`);
    const [, kind, channel, start, duration] = match;
    if (!isFaultKind(kind)) throw new Error(`fault "${entry}": unknown kind; one of ${FAULT_KINDS.join(', ')}`);
    faults.push({ kind, startS: Number(start), durationS: Number(duration), ...(channel ? { channel } : {}) });
  }
  return faults;
}
