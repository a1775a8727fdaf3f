import { createRequire } from 'node:module';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { Backoff, LAN_RECONNECT } from '@vigil/shared/runtime';
import { decodeRegister, planReads, registerWidth, type ReadPlan, type RegisterSpec } from './modbus-registers.js';
import { sleepUntil, type EmitSample, type RejectInput, type SampleSource } from './sample-source.js';

/** Modbus TCP (a PLC, a gateway), or Modbus RTU on a serial line (RS-485 through a USB adapter). */
export type ModbusLink =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; dataBits: 7 | 8; stopBits: 1 | 2 };

export interface ModbusSourceOptions {
  link: ModbusLink;
  /** The unit id of registers that do not name their own. */
  unitId: number;
  timeoutMs: number;
  rateHz: number;
  asset: string;
  registers: RegisterSpec[];
}

/** Polls in a row where no read was answered before the link is taken for dead and re-opened. */
const SILENT_POLLS_BEFORE_RECONNECT = 3;

/**
 * modbus-serial is CommonJS (module.exports = the client class) but its typings declare an ES
 * default export, which an ES module cannot construct: load it with require, typed by its class,
 * and only when a Modbus source is made (a reader on another source does not pay for it).
 */
function loadModbusClient(): typeof ModbusRTU {
  return createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTU;
}

/** A Modbus exception response: the device answered and refused this read (a bad address, busy). */
function isModbusException(error: unknown): error is Error & { modbusCode: number } {
  return typeof (error as { modbusCode?: unknown })?.modbusCode === 'number';
}

function isTimeout(error: unknown): boolean {
  return (error as { errno?: unknown })?.errno === 'ETIMEDOUT';
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Polls a Modbus device at the sample rate. What fails is kept as small as it is:
 *  - a read the device refuses (an exception response) or does not answer in time marks just its
 *    channels missing, and the sample goes out with the rest; the connection stays, since a
 *    gateway with one dead slave behind it is still a good gateway;
 *  - only a broken link (a socket error, the port gone, nothing answered for several polls) closes
 *    the connection, which is re-opened with doubling waits with jitter (at most 5 s), and every
 *    sample missed meanwhile is counted as lost.
 */
export class ModbusSource implements SampleSource {
  readonly name = 'modbus';
  private readonly client: ModbusRTU;
  private readonly plans: ReadPlan[];
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private rateHz: number;
  private readonly reconnectWaits = new Backoff(LAN_RECONNECT);
  private silentPolls = 0;

  constructor(private readonly options: ModbusSourceOptions) {
    const ModbusClient = loadModbusClient();
    this.client = new ModbusClient();
    this.plans = planReads(options.registers);
    this.rateHz = options.rateHz;
  }

  async start(emit: EmitSample, reject: RejectInput): Promise<void> {
    this.running = this.run(emit, reject);
  }

  setRate(rateHz: number): void {
    this.rateHz = rateHz;
  }

  private async run(emit: EmitSample, reject: RejectInput): Promise<void> {
    let deadline = Date.now();
    while (!this.abort.signal.aborted) {
      if (!this.client.isOpen) {
        try {
          await this.open();
          this.reconnectWaits.reset();
        } catch (error) {
          await this.waitToReconnect(reject, `cannot open the Modbus link: ${describe(error)}`);
          deadline = Date.now();
          continue;
        }
      }
      const outcome = await this.poll(reject);
      if (outcome.linkBroken !== undefined) {
        this.closeQuietly();
        await this.waitToReconnect(reject, outcome.linkBroken);
        deadline = Date.now();
        continue;
      }
      if (outcome.channels) await emit({ asset: this.options.asset, ts: outcome.ts, channels: outcome.channels });
      else reject('modbus_read', 'no register read in this poll: sample lost');
      deadline = Math.max(deadline + 1000 / this.rateHz, Date.now());
      await sleepUntil(deadline, this.abort.signal);
    }
  }

  private async open(): Promise<void> {
    const { link } = this.options;
    if (link.kind === 'tcp') await this.client.connectTCP(link.host, { port: link.port });
    else await this.client.connectRTUBuffered(link.path, { baudRate: link.baudRate, parity: link.parity, dataBits: link.dataBits, stopBits: link.stopBits });
    this.client.setTimeout(this.options.timeoutMs);
    this.silentPolls = 0;
  }

  /** Waits before the next attempt, counting each sample the wait costs as lost. */
  private async waitToReconnect(reject: RejectInput, why: string): Promise<void> {
    const wait = this.reconnectWaits.next();
    const lost = Math.max(1, Math.round((wait / 1000) * this.rateHz));
    for (let i = 0; i < lost; i += 1) reject('modbus_read', i === 0 ? `${why}; reconnecting in ${wait} ms` : 'sample lost while the Modbus link is down');
    await sleepUntil(Date.now() + wait, this.abort.signal);
  }

  private async poll(reject: RejectInput): Promise<{ ts: number; channels?: Record<string, number>; linkBroken?: string }> {
    const ts = Date.now();
    const channels: Record<string, number> = {};
    let answered = 0;
    for (let index = 0; index < this.plans.length; index += 1) {
      const plan = this.plans[index] as ReadPlan;
      let outcome = await this.read(plan, channels);
      if (outcome === 'refused' && plan.specs.length > 1) {
        // One register of a grouped read does not exist (or is locked) and the device refuses
        // the whole span: read that span's registers one by one from now on, starting now.
        const singles = plan.specs.map((spec): ReadPlan => ({ unit: plan.unit, table: plan.table, start: spec.address, length: registerWidth(spec.type), specs: [spec] }));
        this.plans.splice(index, 1, ...singles);
        index -= 1;
        continue;
      }
      const where = `unit ${plan.unit ?? this.options.unitId} ${plan.table} ${plan.start}+${plan.length}`;
      if (outcome === 'refused') reject('modbus_exception', `${where}: refused by the device`);
      else if (outcome === 'timeout') reject('modbus_timeout', `${where}: no answer in ${this.options.timeoutMs} ms`);
      else if (typeof outcome === 'object') return { ts, linkBroken: `${where}: ${outcome.broken}` };
      if (outcome !== 'timeout') answered += 1;
      // Missing, not made up: the preprocessor imputes it and says so.
      if (outcome !== 'read') for (const spec of plan.specs) channels[spec.channel] = Number.NaN;
    }
    if (answered === 0) {
      this.silentPolls += 1;
      if (this.silentPolls >= SILENT_POLLS_BEFORE_RECONNECT) return { ts, linkBroken: `no answer for ${this.silentPolls} polls` };
      return { ts };
    }
    this.silentPolls = 0;
    // Every register refused: nothing to send, though the link is fine.
    return Object.values(channels).every(Number.isNaN) ? { ts } : { ts, channels };
  }

  private async read(plan: ReadPlan, channels: Record<string, number>): Promise<'read' | 'refused' | 'timeout' | { broken: string }> {
    this.client.setID(plan.unit ?? this.options.unitId);
    try {
      const result =
        plan.table === 'input' ? await this.client.readInputRegisters(plan.start, plan.length) : await this.client.readHoldingRegisters(plan.start, plan.length);
      for (const spec of plan.specs) channels[spec.channel] = decodeRegister(spec, result.data, plan.start);
      return 'read';
    } catch (error) {
      if (isModbusException(error)) return 'refused';
      if (isTimeout(error)) return 'timeout';
      return { broken: describe(error) };
    }
  }

  private closeQuietly(): void {
    try {
      if (this.client.isOpen) this.client.close(() => undefined);
    } catch {
      // Already closed: nothing to release.
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.closeQuietly();
  }
}
