import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerTCP as ServerTCPType } from 'modbus-serial';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startProcess, type ManagedProcess } from '../../../test/harness/processes.js';
import { ModbusSource } from '../src/modbus-source.js';
import { decodeRegister, parseRegisterMap, planReads } from '../src/modbus-registers.js';
import type { RawSample } from '../src/sample-source.js';

const { ServerTCP, ServerSerial } = createRequire(import.meta.url)('modbus-serial') as {
  ServerTCP: typeof ServerTCPType;
  ServerSerial: new (vector: ConstructorParameters<typeof ServerTCPType>[0], options: { path: string; baudRate: number; unitID: number }) => {
    on(event: 'initialized', listener: () => void): void;
    close(callback: () => void): void;
  };
};

describe('modbus register maps', () => {
  it('decodes 16- and 32-bit registers with scale, offset and word order', () => {
    const [int16, float32, uint32] = parseRegisterMap(
      JSON.stringify([
        { channel: 't', address: 0, type: 'int16', scale: 0.1, offset: -5 },
        { channel: 'f', address: 1, type: 'float32' },
        { channel: 'e', address: 3, type: 'uint32', swapWords: true },
      ]),
    );
    const float = Buffer.alloc(4);
    float.writeFloatBE(31.5);
    const words = [0xfff6, float.readUInt16BE(0), float.readUInt16BE(2), 0x0002, 0x0001];
    assert.equal(decodeRegister(int16!, words, 0), -6);
    assert.equal(decodeRegister(float32!, words, 0), 31.5);
    assert.equal(decodeRegister(uint32!, words, 0), 0x00010002);
  });

  it('groups registers into as few reads as Modbus allows', () => {
    const specs = parseRegisterMap(
      JSON.stringify([
        { channel: 'a', address: 0 },
        { channel: 'b', address: 10, type: 'float32' },
        { channel: 'c', address: 300 },
        { channel: 'd', address: 5, table: 'holding' },
      ]),
    );
    const plans = planReads(specs).map(({ table, start, length }) => ({ table, start, length }));
    assert.deepEqual(plans, [
      { table: 'input', start: 0, length: 12 },
      { table: 'input', start: 300, length: 1 },
      { table: 'holding', start: 5, length: 1 },
    ]);
  });

  it('lists every problem in a bad map', () => {
    assert.throws(() => parseRegisterMap('[{"address": -1, "type": "bcd"}]'), /channel.*address.*type/);
    assert.throws(() => parseRegisterMap('{}'), /non-empty array/);
  });
});

/** A Modbus TCP server on a fixed port that can go away and come back, counting the connections it took. */
class TcpSlave {
  server: ServerTCPType | undefined;
  readonly sockets = new Set<unknown>();
  private watcher: NodeJS.Timeout | undefined;

  constructor(
    readonly port: number,
    private readonly vector: ConstructorParameters<typeof ServerTCP>[0],
  ) {}

  async start(): Promise<void> {
    const server = new ServerTCP(this.vector, { host: '127.0.0.1', port: this.port, unitID: 255 });
    this.server = server;
    await new Promise((resolve) => server.on('initialized', resolve));
    this.watcher = setInterval(() => {
      for (const socket of server.socks.keys()) this.sockets.add(socket);
    }, 10);
  }

  async stop(): Promise<void> {
    clearInterval(this.watcher);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

const ILLEGAL_ADDRESS = { modbusErrorCode: 0x02, msg: 'Illegal data address' };

describe('modbus source against a real Modbus TCP server', () => {
  let slave: TcpSlave;
  let pressureRaw = 123;

  before(async () => {
    slave = new TcpSlave(await freePort(), {
      // Unit 1: a pressure transmitter; unit 2 behind the same gateway: a flow meter whose
      // register 5 does not exist; unit 3: a slave that answers too late.
      getInputRegister: (address: number, unit: number) => {
        if (unit === 1) return address === 0 ? pressureRaw : 0;
        if (unit === 2) return 700;
        return new Promise<number>((resolve) => setTimeout(() => resolve(1), 400));
      },
      getHoldingRegister: (address: number, unit: number) => {
        if (unit === 2 && address === 5) throw ILLEGAL_ADDRESS;
        return address === 7 ? 2300 : 0;
      },
    });
    await slave.start();
  });

  after(async () => {
    await slave.stop();
  });

  const source = (registers: unknown[], rateHz = 20, port = slave.port) =>
    new ModbusSource({ link: { kind: 'tcp', host: '127.0.0.1', port }, unitId: 1, timeoutMs: 200, rateHz, asset: 'plc-1', registers: parseRegisterMap(JSON.stringify(registers)) });

  it('polls input and holding registers at the rate and scales them', async () => {
    const modbus = source([
      { channel: 'pressure', address: 0, scale: 0.01 },
      { channel: 'voltage', table: 'holding', address: 7, scale: 0.1 },
    ]);
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await modbus.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    await waitFor('polls', () => samples.length >= 5 || undefined, 5000);
    pressureRaw = 250;
    await waitFor('a changed register', () => samples.some((sample) => sample.channels.pressure === 2.5) || undefined, 5000);
    await modbus.stop();
    assert.equal(samples[0]?.asset, 'plc-1');
    assert.equal(samples[0]?.channels.pressure, 1.23);
    assert.equal(samples[0]?.channels.voltage, 230);
    assert.deepEqual(rejected, []);
  });

  it('reads several unit ids on one connection; a refused or unanswered register is missing, the rest go out, and the connection stays', async () => {
    const connectionsBefore = slave.sockets.size;
    const modbus = source([
      { channel: 'pressure', address: 0, scale: 0.01 },
      { channel: 'flow', unit: 2, address: 0, scale: 0.1 },
      { channel: 'valve', unit: 2, table: 'holding', address: 5 },
      { channel: 'level', unit: 3, address: 0 },
    ]);
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await modbus.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    await waitFor('ten samples', () => samples.length >= 10 || undefined, 10_000);
    await modbus.stop();
    for (const sample of samples) {
      assert.equal(sample.channels.pressure, 2.5);
      assert.equal(sample.channels.flow, 70);
      assert.ok(Number.isNaN(sample.channels.valve), 'the refused register is missing');
      assert.ok(Number.isNaN(sample.channels.level), 'the unanswered register is missing');
    }
    assert.ok(rejected.filter((reason) => reason === 'modbus_exception').length >= 10, 'each exception counted');
    assert.ok(rejected.filter((reason) => reason === 'modbus_timeout').length >= 10, 'each timeout counted');
    assert.ok(!rejected.includes('modbus_read'), 'no sample lost');
    assert.equal(slave.sockets.size - connectionsBefore, 1, 'one connection throughout');
  });

  it("survives the device's restart: reconnects with backoff, resumes within 5 s, and counts every sample lost", async () => {
    const rateHz = 10;
    const modbus = source([{ channel: 'pressure', address: 0, scale: 0.01 }], rateHz);
    const samples: RawSample[] = [];
    const lost: string[] = [];
    const started = Date.now();
    await modbus.start((sample) => void samples.push(sample), (reason) => void (reason === 'modbus_read' && lost.push(reason)));
    await waitFor('flowing', () => samples.length >= 10 || undefined, 5000);
    await slave.stop();
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await slave.start();
    const upAt = Date.now();
    const before = samples.length;
    await waitFor('flowing again', () => samples.length > before || undefined, 5_000);
    const resumedS = (Date.now() - upAt) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await modbus.stop();
    const elapsedS = (Date.now() - started) / 1000;
    assert.ok(resumedS < 5, `resumed ${resumedS.toFixed(1)} s after the device came back`);
    // What the rate promised is what arrived plus what was counted lost (a poll's jitter aside).
    const expected = elapsedS * rateHz;
    const accounted = samples.length + lost.length;
    assert.ok(Math.abs(accounted - expected) <= 0.2 * expected, `${samples.length} samples + ${lost.length} lost against ${expected.toFixed(0)} expected`);
    assert.ok(lost.length >= ((upAt - downAt) / 1000) * rateHz * 0.6, `the outage's samples counted lost (${lost.length})`);
  });

  it('counts failed polls and keeps polling when the device is not there', async () => {
    const modbus = source([{ channel: 'x', address: 0 }], 20, await freePort());
    const rejected: string[] = [];
    await modbus.start(() => assert.fail('no sample expected'), (reason) => rejected.push(reason));
    await waitFor('several failed polls', () => rejected.length >= 3 || undefined, 5000);
    await modbus.stop();
    assert.ok(rejected.every((reason) => reason === 'modbus_read'));
  });
});

describe('modbus RTU over a serial line (a socat pseudo-terminal pair, a simulated slave on the far end)', () => {
  let socat: ManagedProcess;
  let folder: string;
  let slave: InstanceType<typeof ServerSerial> | undefined;
  let temperatureRaw = 215;

  const startSlave = async () => {
    const server = new ServerSerial(
      {
        getInputRegister: (address: number) => (address === 0 ? temperatureRaw : 0),
        getHoldingRegister: (address: number) => {
          if (address === 9) throw ILLEGAL_ADDRESS;
          return 42;
        },
      },
      { path: join(folder, 'slave'), baudRate: 19200, unitID: 7 },
    );
    await new Promise<void>((resolve) => server.on('initialized', resolve));
    slave = server;
  };
  const stopSlave = async () => {
    const server = slave;
    slave = undefined;
    if (server) await new Promise<void>((resolve) => server.close(resolve));
  };

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'vigil-rtu-'));
    socat = startProcess('socat', 'socat', ['-d', '-d', `pty,raw,echo=0,link=${join(folder, 'reader')}`, `pty,raw,echo=0,link=${join(folder, 'slave')}`]);
    await waitFor('the pty pair', () => (existsSync(join(folder, 'reader')) && existsSync(join(folder, 'slave'))) || undefined, 5_000).catch((error: Error) => {
      throw new Error(`${error.message}: is socat installed? ${socat.text()}`);
    });
    await startSlave();
  });

  after(async () => {
    await stopSlave();
    await socat.stop();
  });

  it('reads registers of a slave on the serial line, a refused one missing, and resumes after the slave restarts', async () => {
    const modbus = new ModbusSource({
      link: { kind: 'rtu', path: join(folder, 'reader'), baudRate: 19200, parity: 'none', dataBits: 8, stopBits: 1 },
      unitId: 7,
      timeoutMs: 300,
      rateHz: 5,
      asset: 'chiller-2',
      registers: parseRegisterMap(
        JSON.stringify([
          { channel: 'temperature', address: 0, type: 'int16', scale: 0.1 },
          { channel: 'setpoint', table: 'holding', address: 3 },
          { channel: 'alarmWord', table: 'holding', address: 9 },
        ]),
      ),
    });
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await modbus.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    try {
      await waitFor('samples over RTU', () => samples.length >= 3 || undefined, 10_000);
      const first = samples[0];
      assert.equal(first?.channels.temperature, 21.5);
      assert.equal(first?.channels.setpoint, 42);
      assert.ok(Number.isNaN(first?.channels.alarmWord), 'the refused register is missing, the others went out');
      assert.ok(rejected.includes('modbus_exception'));

      await stopSlave();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      temperatureRaw = 230;
      await startSlave();
      const upAt = Date.now();
      await waitFor('samples again', () => samples.some((sample) => sample.channels.temperature === 23) || undefined, 8_000);
      assert.ok(Date.now() - upAt < 5_000, 'resumed within 5 s');
      assert.ok(rejected.includes('modbus_timeout') || rejected.includes('modbus_read'), 'the silence counted');
    } finally {
      await modbus.stop();
    }
  });
});
