import { createRequire } from 'node:module';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { decodeRegister, planReads, type ReadPlan, type RegisterSpec } from './modbus-registers.js';
import { sleepUntil, type EmitSample, type RejectInput, type SampleSource } from './sample-source.js';

export interface ModbusSourceOptions {
  host: string;
  port: number;
  unitId: number;
  timeoutMs: number;
  rateHz: number;
  asset: string;
  registers: RegisterSpec[];
}

/**
 * modbus-serial is CommonJS (module.exports = the client class) but its typings declare an ES
 * default export, which an ES module cannot construct: load it with require, typed by its class,
 * and only when a Modbus source is made (a reader on another source does not pay for it).
 */
function loadModbusClient(): typeof ModbusRTU {
  return createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTU;
}

/**
 * Polls a Modbus TCP device (a PLC, a power meter) at the sample rate. A failed poll is counted
 * and the connection re-opened; one bad poll never ends the service.
 */
export class ModbusSource implements SampleSource {
  readonly name = 'modbus';
  private readonly client: ModbusRTU;
  private readonly plans: ReadPlan[];
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private rateHz: number;

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
      try {
        await this.ensureConnected();
        await emit({ asset: this.options.asset, ts: Date.now(), channels: await this.poll() });
      } catch (error) {
        reject('modbus_read', error instanceof Error ? error.message : String(error));
        this.closeQuietly();
      }
      deadline = Math.max(deadline + 1000 / this.rateHz, Date.now());
      await sleepUntil(deadline, this.abort.signal);
    }
  }

  private async ensureConnected(): Promise<void> {
    if (this.client.isOpen) return;
    await this.client.connectTCP(this.options.host, { port: this.options.port });
    this.client.setID(this.options.unitId);
    this.client.setTimeout(this.options.timeoutMs);
  }

  private async poll(): Promise<Record<string, number>> {
    const channels: Record<string, number> = {};
    for (const plan of this.plans) {
      const result =
        plan.table === 'input'
          ? await this.client.readInputRegisters(plan.start, plan.length)
          : await this.client.readHoldingRegisters(plan.start, plan.length);
      for (const spec of plan.specs) channels[spec.channel] = decodeRegister(spec, result.data, plan.start);
    }
    return channels;
  }

  private closeQuietly(): void {
    try {
      if (this.client.isOpen) this.client.close();
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
