import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { decodeMessage, PullPipe, type ReadingMessage } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startMosquitto, startRedis, type TestServer } from '../../../test/harness/servers.js';
import { loadSensorReaderConfig } from '../src/config.js';
import { startSensorReader } from '../src/reader.js';
import { MAX_PENDING_FAULTS } from '../src/fault-routes.js';
import { SeqAllocator } from '../src/seq-allocator.js';

const logger = pino({ level: 'silent' });

describe('sensor-reader (in-process, real Redis and ZeroMQ)', () => {
  let redis: TestServer;
  let input: PullPipe;
  let endpoint: string;
  const readings: ReadingMessage[] = [];

  before(async () => {
    redis = await startRedis();
    endpoint = `tcp://127.0.0.1:${await freePort()}`;
    input = await PullPipe.bind({ endpoint, highWaterMark: 10_000 });
    void (async () => {
      for await (const [frame] of input.messages()) readings.push(decodeMessage(frame as Buffer, 'reading'));
    })();
  });

  after(async () => {
    input.close();
    await redis.stop();
  });

  it('replays a CSV file, stamping asset and a gap-free seq, and counts malformed rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-csv-'));
    const path = join(dir, 'replay.csv');
    const rows = Array.from({ length: 50 }, (_, i) => `2026-01-01 00:00:${String(i).padStart(2, '0')};${i};${2 * i}`);
    rows.splice(10, 0, '2026-01-01 00:00:10;broken');
    rows.splice(20, 0, 'not-a-time;1;2');
    writeFileSync(path, `datetime;pressure;flow\n${rows.join('\n')}\n`);
    const config = loadSensorReaderConfig({
      redisUrl: redis.url,
      metricsPort: await freePort(),
      metricsHost: '127.0.0.1',
      asset: 'line-3',
      source: 'csv',
      output: { endpoint },
      csv: { path, speed: 0 },
    });
    const reader = await startSensorReader(config, logger);
    let metrics;
    try {
      await waitFor('50 readings', () => readings.length >= 50 || undefined, 5000);
      metrics = await scrape(reader.opsPort);
    } finally {
      await reader.stop();
    }
    assert.deepEqual(readings.map((reading) => reading.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(readings[3]?.asset, 'line-3');
    assert.equal(readings[3]?.ts, Date.UTC(2026, 0, 1, 0, 0, 3));
    assert.deepEqual(readings[3]?.channels, { pressure: 3, flow: 6 });
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'csv_row' }), 1);
    assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'csv_time' }), 1);
  });

  it('keeps seq increasing across a restart, with no gap after a clean stop (seq blocks reserved in Redis)', async () => {
    readings.length = 0;
    const settings = {
      redisUrl: redis.url,
      metricsHost: '127.0.0.1',
      asset: 'sim-1',
      output: { endpoint },
      simulator: { speed: 100, maxSamples: 30, faults: '' },
    };
    const first = await startSensorReader(loadSensorReaderConfig({ ...settings, metricsPort: await freePort() }), logger);
    await waitFor('first run', () => readings.length >= 30 || undefined, 5000).finally(() => first.stop());
    const lastBefore = readings.at(-1)?.seq ?? 0;
    const second = await startSensorReader(loadSensorReaderConfig({ ...settings, metricsPort: await freePort() }), logger);
    await waitFor('second run', () => readings.length >= 60 || undefined, 5000).finally(() => second.stop());
    const seqs = readings.map((reading) => reading.seq);
    assert.ok(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)), 'seq strictly increasing');
    assert.equal(readings[30]?.seq, lastBefore + 1, 'a clean stop hands the rest of its block back: no gap downstream would count as lost');
  });

  it('hands back only a block still its own: never a number another run reserved, and the counter keeps its TTL', async () => {
    const client = new Redis(redis.url);
    try {
      const first = new SeqAllocator(client, logger, 100, 3_600);
      await first.prepare('handback-1');
      for (let i = 0; i < 5; i += 1) first.next('handback-1');
      const second = new SeqAllocator(client, logger, 100, 3_600);
      await second.prepare('handback-1'); // 101-200: the counter is no longer at first's end
      await first.release();
      assert.equal(await client.get('vigil:seq:handback-1'), '200', 'first may not hand back what second holds');
      assert.equal(second.next('handback-1'), 101);
      await second.release();
      assert.equal(await client.get('vigil:seq:handback-1'), '101');
      assert.ok((await client.ttl('vigil:seq:handback-1')) > 3_000, 'the TTL kept');
      const third = new SeqAllocator(client, logger, 100, 3_600);
      await third.prepare('handback-1');
      assert.equal(third.next('handback-1'), 102);
    } finally {
      client.disconnect();
    }
  });

  it('injects a fault on command only for the holder of the token, and bounds what one may inject', async () => {
    const port = await freePort();
    const token = 'demo-token-7f3a';
    const reader = await startSensorReader(
      loadSensorReaderConfig({ redisUrl: redis.url, metricsPort: port, metricsHost: '127.0.0.1', output: { endpoint }, faultToken: token, simulator: { faults: '' } }),
      logger,
    );
    const faults = `http://127.0.0.1:${port}/faults`;
    const post = (body: unknown, bearer: string | null = token) =>
      fetch(faults, { method: 'POST', body: JSON.stringify(body), headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` } });
    try {
      assert.equal((await post({ kind: 'leak', durationS: 30 }, null)).status, 401, 'no token');
      assert.equal((await post({ kind: 'leak', durationS: 30 }, 'demo-token-7f3b')).status, 401, 'wrong token');
      assert.equal((await fetch(faults)).status, 401, 'listing needs the token too');
      const response = await post({ kind: 'leak', durationS: 30 });
      assert.equal(response.status, 201);
      assert.deepEqual(((await response.json()) as { affects: string[] }).affects, ['pressure', 'flow', 'current']);
      const listed = (await (await fetch(faults, { headers: { authorization: `Bearer ${token}` } })).json()) as { scheduled: unknown[] };
      assert.equal(listed.scheduled.length, 1);
      assert.equal((await post({ kind: 'meltdown' })).status, 400);
      assert.equal((await post({ kind: 'leak', durationS: 1e9 })).status, 400, 'an endless fault is refused');
      assert.equal((await post(null)).status, 400);
      for (let i = 1; i < MAX_PENDING_FAULTS; i++) assert.equal((await post({ kind: 'cavitation', durationS: 60 })).status, 201);
      const tooMany = await post({ kind: 'cavitation', durationS: 60 });
      assert.equal(tooMany.status, 429, 'the list of faults is bounded');
    } finally {
      await reader.stop();
    }
    const untokened = await freePort();
    const closed = await startSensorReader(
      loadSensorReaderConfig({ redisUrl: redis.url, metricsPort: untokened, metricsHost: '127.0.0.1', output: { endpoint }, simulator: { faults: '' } }),
      logger,
    );
    try {
      const refused = await fetch(`http://127.0.0.1:${untokened}/faults`, { method: 'POST', body: '{"kind":"leak"}' });
      assert.equal(refused.status, 403, 'off without a token');
      assert.match(((await refused.json()) as { error: string }).error, /VIGIL_SENSOR_READER_FAULT_TOKEN/);
    } finally {
      await closed.stop();
    }
  });

  it('checks asset names from the source and bounds how many there are: a flood of names takes no Redis keys past the bound, and the configured asset keeps reading', async () => {
    // The earlier tests' readers (asset pump-1) may still have readings in the pipe: let them land.
    for (let count = -1; count !== readings.length; ) {
      count = readings.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    readings.length = 0;
    const broker = await startMosquitto();
    const port = await freePort();
    const reader = await startSensorReader(
      loadSensorReaderConfig({ redisUrl: redis.url, metricsPort: port, metricsHost: '127.0.0.1', asset: 'pump-9', source: 'mqtt', maxAssets: 4, mqtt: { url: broker.url, topics: ['sensors/#'] }, output: { endpoint } }),
      logger,
    );
    const client = await mqtt.connectAsync(broker.url);
    const keys = new Redis(redis.url);
    try {
      const publish = (asset: string, value: number) => client.publishAsync('sensors/x', JSON.stringify({ asset, channels: { pressure: value } }));
      const bad = ['a'.repeat(10_000), 'with\u0000nul', 'new\nline', 'spa ce', ''];
      for (const name of bad) await publish(name, 1);
      for (let i = 0; i < 200; i += 1) await publish(`junk-${i}`, 1);
      for (let i = 0; i < 5; i += 1) await publish('pump-9', i);
      await waitFor('the configured asset to read through the flood', () => readings.filter((reading) => reading.asset === 'pump-9').length >= 5 || undefined, 10_000);
      const metrics = await scrape(port);
      // Four names at most: the configured one and the first three of the flood.
      assert.deepEqual([...new Set(readings.map((reading) => reading.asset))].sort(), ['junk-0', 'junk-1', 'junk-2', 'pump-9']);
      assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'too_many_assets' }), 197);
      // An empty asset is the source's default (the configured asset), so four names are refused.
      assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason: 'bad_asset' }), 4);
      // Redis holds a sequence key for the admitted names only (earlier tests left their own).
      const seqKeys = await keys.keys('vigil:seq:*');
      assert.deepEqual(seqKeys.filter((key) => key.includes('junk')).sort(), ['vigil:seq:junk-0', 'vigil:seq:junk-1', 'vigil:seq:junk-2']);
      assert.ok(!seqKeys.some((key) => key.length > 100 || /[\s\u0000]/.test(key)), 'no key for a refused name');
    } finally {
      keys.disconnect();
      await client.endAsync();
      await reader.stop();
      await broker.stop();
    }
  });
});


describe('sensor-reader settings', () => {
  it('parses and cross-checks at load: every mistake in one error, each naming its variable', () => {
    assert.throws(
      () => loadSensorReaderConfig({ source: 'modbus', simulator: { faults: 'cavitation@soon' }, csv: { columns: ['=pressure'] } }),
      (error: Error & { problems?: string[] }) => {
        const problems = error.problems ?? [];
        assert.equal(problems.length, 3, problems.join(' | '));
        assert.match(problems.join('\n'), /fault "cavitation@soon"/);
        assert.match(problems.join('\n'), /=pressure/);
        assert.match(problems.join('\n'), /VIGIL_SENSOR_READER_MODBUS_REGISTERS/);
        return true;
      },
    );
    const config = loadSensorReaderConfig({ simulator: { faults: 'leak@10+5' }, csv: { columns: ['P1=pressure'] } });
    assert.deepEqual(config.simulator.schedule.map((fault) => [fault.kind, fault.startS, fault.durationS]), [['leak', 10, 5]]);
    assert.deepEqual(config.csv.columnMap, { P1: 'pressure' });
  });

  it('reads channel maps from JSON and YAML files, and names the setting, the file and every problem when one is wrong', () => {
    const folder = mkdtempSync(join(tmpdir(), 'vigil-maps-'));
    const write = (name: string, text: string) => {
      writeFileSync(join(folder, name), text);
      return join(folder, name);
    };
    const yamlMap = write('registers.yaml', ['# the gateway in cabinet 4', '- channel: pressure', '  address: 0', '  scale: 0.01', '- channel: flow', '  unit: 2', '  table: holding', '  address: 10', '  type: float32', ''].join('\n'));
    const fromYaml = loadSensorReaderConfig({ source: 'modbus', modbus: { registersFile: yamlMap } });
    assert.deepEqual(fromYaml.modbus.registerMap.map((spec) => [spec.channel, spec.unit, spec.table, spec.address, spec.type, spec.scale]), [
      ['pressure', undefined, 'input', 0, 'uint16', 0.01],
      ['flow', 2, 'holding', 10, 'float32', 1],
    ]);
    const columns = write('columns.json', '{"P1 (bar)": "pressure", "T, °C": "motorTemperature"}');
    assert.deepEqual(loadSensorReaderConfig({ csv: { columnsFile: columns } }).csv.columnMap, { 'P1 (bar)': 'pressure', 'T, °C': 'motorTemperature' });

    const problemsOf = (overrides: Record<string, unknown>): string[] => {
      try {
        loadSensorReaderConfig(overrides);
      } catch (error) {
        return (error as { problems?: string[] }).problems ?? [];
      }
      return [];
    };
    const bad = write('bad.yaml', '- channel: pressure\n  address: 70000\n- unit: 300\n  address: 1\n');
    const [badMap] = problemsOf({ source: 'modbus', modbus: { registersFile: bad } });
    assert.match(badMap ?? '', /register 0: address must be 0-65535; register 1: channel must be a name; register 1: unit must be 0-255/);
    assert.match(problemsOf({ source: 'modbus', modbus: { registersFile: write('torn.yaml', '- channel: [pressure\n') } })[0] ?? '', /VIGIL_SENSOR_READER_MODBUS_REGISTERS_FILE: .*torn\.yaml is not valid YAML/);
    assert.match(problemsOf({ source: 'modbus', modbus: { registersFile: join(folder, 'nope.json') } })[0] ?? '', /cannot read .*nope\.json \(no such file\)/);
    assert.match(problemsOf({ csv: { columnsFile: write('columns.yml', 'P1: ""\n') } })[0] ?? '', /column "P1": its channel must be a name/);
    assert.match(problemsOf({ source: 'modbus', modbus: { registersFile: yamlMap, transport: 'rtu' } }).join('\n'), /VIGIL_SENSOR_READER_MODBUS_SERIAL_PORT/);
    const nodes = write('nodes.yaml', 'pressure: ns=2;s=Pump1.Pressure\nflow: "ns=2;i=1001"\n');
    assert.deepEqual(loadSensorReaderConfig({ source: 'opcua', opcua: { nodesFile: nodes } }).opcua.nodeMap, [
      { channel: 'pressure', nodeId: 'ns=2;s=Pump1.Pressure' },
      { channel: 'flow', nodeId: 'ns=2;i=1001' },
    ]);
    const endpoint = problemsOf({ source: 'opcua', opcua: { endpoint: 'http://user:secret@plc:4840', nodesFile: nodes } }).join('\n');
    assert.match(endpoint, /opc\.tcp:\/\/host:4840/);
    assert.doesNotMatch(endpoint, /secret/, 'the value is not repeated');
    const opcua = problemsOf({ source: 'opcua', opcua: { securityMode: 'SignAndEncrypt', userCertificateFile: 'user.pem' } }).join('\n');
    assert.match(opcua, /VIGIL_SENSOR_READER_OPCUA_NODES/);
    assert.match(opcua, /mode None goes with policy None/);
    assert.match(opcua, /needs its private key/);
  });
});
