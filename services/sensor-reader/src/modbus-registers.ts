/**
 * Modbus register maps: which registers hold which channel, how to decode and scale them, and
 * how to read them in as few requests as possible. Pure functions, no I/O.
 */
export type RegisterTable = 'input' | 'holding';
export type RegisterType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';

export interface RegisterSpec {
  channel: string;
  /** The unit (slave) id that holds it; undefined: the source's unit id. A gateway serves several. */
  unit?: number;
  table: RegisterTable;
  address: number;
  type: RegisterType;
  /** value = raw * scale + offset (PLCs send fixed-point: 1234 → 12.34 bar with scale 0.01). */
  scale: number;
  offset: number;
  /** 32-bit values: true when the low word comes first (many power meters do this). */
  swapWords: boolean;
}

/** Modbus allows reading at most 125 registers in one request. */
const MAX_REGISTERS_PER_READ = 125;

export function registerWidth(type: RegisterType): number {
  return type === 'uint16' || type === 'int16' ? 1 : 2;
}

/** Validates a register map given as JSON (from config), with every problem listed. */
export function parseRegisterMap(json: string): RegisterSpec[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('modbus register map is not valid JSON');
  }
  return checkRegisterMap(parsed);
}

/** Validates a register map already parsed (from JSON or a YAML file), with every problem listed. */
export function checkRegisterMap(parsed: unknown): RegisterSpec[] {
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error('modbus register map must be a non-empty array');
  const problems: string[] = [];
  const specs = parsed.map((entry: Record<string, unknown>, index): RegisterSpec => {
    const where = `register ${index}`;
    if (typeof entry.channel !== 'string' || entry.channel === '') problems.push(`${where}: channel must be a name`);
    const table = entry.table ?? 'input';
    if (table !== 'input' && table !== 'holding') problems.push(`${where}: table must be input or holding`);
    if (!Number.isInteger(entry.address) || (entry.address as number) < 0 || (entry.address as number) > 65535) {
      problems.push(`${where}: address must be 0-65535`);
    }
    const type = entry.type ?? 'uint16';
    if (!['uint16', 'int16', 'uint32', 'int32', 'float32'].includes(type as string)) {
      problems.push(`${where}: type must be uint16, int16, uint32, int32 or float32`);
    }
    if (entry.unit !== undefined && (!Number.isInteger(entry.unit) || (entry.unit as number) < 0 || (entry.unit as number) > 255)) {
      problems.push(`${where}: unit must be 0-255`);
    }
    for (const key of ['scale', 'offset'] as const) {
      if (entry[key] !== undefined && (typeof entry[key] !== 'number' || !Number.isFinite(entry[key]))) {
        problems.push(`${where}: ${key} must be a number`);
      }
    }
    return {
      channel: entry.channel as string,
      ...(entry.unit === undefined ? {} : { unit: entry.unit as number }),
      table: table as RegisterTable,
      address: entry.address as number,
      type: type as RegisterType,
      scale: (entry.scale as number | undefined) ?? 1,
      offset: (entry.offset as number | undefined) ?? 0,
      swapWords: entry.swapWords === true,
    };
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return specs;
}

export interface ReadPlan {
  /** undefined: the source's unit id. */
  unit: number | undefined;
  table: RegisterTable;
  start: number;
  length: number;
  specs: RegisterSpec[];
}

/** Groups registers into contiguous-enough reads: one request per 125-register span per unit and table. */
export function planReads(specs: RegisterSpec[]): ReadPlan[] {
  const plans: ReadPlan[] = [];
  const units = [...new Set(specs.map((spec) => spec.unit))];
  for (const unit of units) {
    for (const table of ['input', 'holding'] as const) {
      const sorted = specs.filter((spec) => spec.unit === unit && spec.table === table).sort((a, b) => a.address - b.address);
      let current: ReadPlan | undefined;
      for (const spec of sorted) {
        const end = spec.address + registerWidth(spec.type);
        if (current && end - current.start <= MAX_REGISTERS_PER_READ) {
          current.length = Math.max(current.length, end - current.start);
          current.specs.push(spec);
        } else {
          current = { unit, table, start: spec.address, length: end - spec.address, specs: [spec] };
          plans.push(current);
        }
      }
    }
  }
  return plans;
}

/** Decodes one register value from a read's words and applies scale and offset. */
export function decodeRegister(spec: RegisterSpec, words: number[], readStart: number): number {
  const index = spec.address - readStart;
  const high = words[index] ?? Number.NaN;
  if (registerWidth(spec.type) === 1) {
    const raw = spec.type === 'int16' && high >= 0x8000 ? high - 0x10000 : high;
    return raw * spec.scale + spec.offset;
  }
  const second = words[index + 1] ?? Number.NaN;
  const [first, last] = spec.swapWords ? [second, high] : [high, second];
  const buffer = Buffer.alloc(4);
  buffer.writeUInt16BE(first & 0xffff, 0);
  buffer.writeUInt16BE(last & 0xffff, 2);
  const raw =
    spec.type === 'float32' ? buffer.readFloatBE(0) : spec.type === 'int32' ? buffer.readInt32BE(0) : buffer.readUInt32BE(0);
  return raw * spec.scale + spec.offset;
}
