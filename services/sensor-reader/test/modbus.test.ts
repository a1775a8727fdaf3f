import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { ServerTCP as ServerTCPType } from 'modbus-serial';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { ModbusSource } from '../src/modbus-source.js';
import { decodeRegister, parseRegisterMap, planReads } from '../src/modbus-registers.js';
import type { RawSample } from '../src/sample-source.js';

const { ServerTCP } = createRequire(import.meta.url)('modbus-serial') as { ServerTCP: typeof ServerTCPType };

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
    assert.throws(() => parseRegisterMap('{}'), /non-empty JSON array/);
  });
});

describe('modbus source against a real Modbus TCP server', () => {
  let server: ServerTCPType;
  let port: number;
  let pressureRaw = 123;

  before(async () => {
    port = await freePort();
    server = new ServerTCP(
      {
        getInputRegister: (address: number) => (address === 0 ? pressureRaw : 0),
        getHoldingRegister: (address: number) => (address === 7 ? 2300 : 0),
      },
      { host: '127.0.0.1', port, unitID: 1 },
    );
    await new Promise((resolve) => server.on('initialized', resolve));
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('polls input and holding registers at the rate and scales them', async () => {
    const source = new ModbusSource({
      host: '127.0.0.1',
      port,
      unitId: 1,
      timeoutMs: 500,
      rateHz: 20,
      asset: 'plc-1',
      registers: parseRegisterMap(
        JSON.stringify([
          { channel: 'pressure', address: 0, scale: 0.01 },
          { channel: 'voltage', table: 'holding', address: 7, scale: 0.1 },
        ]),
      ),
    });
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await source.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    await waitFor('polls', () => samples.length >= 5 || undefined, 5000);
    pressureRaw = 250;
    await waitFor('a changed register', () => samples.some((sample) => sample.channels.pressure === 2.5) || undefined, 5000);
    await source.stop();
    assert.equal(samples[0]?.asset, 'plc-1');
    assert.equal(samples[0]?.channels.pressure, 1.23);
    assert.equal(samples[0]?.channels.voltage, 230);
    assert.deepEqual(rejected, []);
  });

  it('counts failed polls and keeps polling when the device is not there', async () => {
    const source = new ModbusSource({
      host: '127.0.0.1',
      port: await freePort(),
      unitId: 1,
      timeoutMs: 200,
      rateHz: 20,
      asset: 'gone',
      registers: parseRegisterMap('[{"channel": "x", "address": 0}]'),
    });
    const rejected: string[] = [];
    await source.start(() => assert.fail('no sample expected'), (reason) => rejected.push(reason));
    await waitFor('several failed polls', () => rejected.length >= 3 || undefined, 5000);
    await source.stop();
    assert.ok(rejected.every((reason) => reason === 'modbus_read'));
  });
});
