/**
 * The OPC UA source against a real node-opcua server the test starts on a free port: values by
 * subscription, a Bad status, a node the server does not have, user and password over an
 * encrypted channel, and the server restarting.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StatusCodes } from 'node-opcua-client';
import { OPCUA_USER as USER, PlcServer } from '../../../test/harness/opcua-server.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { checkNodeMap, OpcuaSource, type OpcuaSourceOptions } from '../src/opcua-source.js';
import type { RawSample } from '../src/sample-source.js';

describe('OPC UA source against a real OPC UA server', { timeout: 120_000 }, () => {
  let plc: PlcServer;
  let folder: string;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'vigil-opcua-'));
    plc = new PlcServer(await freePort(), join(folder, 'server-pki'));
    await plc.start();
  });

  after(async () => {
    await plc.stop();
  });

  const options = (overrides: Partial<OpcuaSourceOptions> = {}): OpcuaSourceOptions => ({
    endpoint: `opc.tcp://127.0.0.1:${plc.port}`,
    securityMode: 'None',
    securityPolicy: 'None',
    username: USER.name,
    password: USER.password,
    userCertificateFile: '',
    userPrivateKeyFile: '',
    pkiDir: join(folder, 'client-pki'),
    nodes: checkNodeMap({ pressure: 'ns=1;s=Pump1.Pressure', temperature: 'ns=1;s=Pump1.Temperature' }),
    rateHz: 10,
    asset: 'pump-1',
    ...overrides,
  });

  const run = async (source: OpcuaSource, body: (samples: RawSample[], rejected: string[]) => Promise<void>) => {
    const samples: RawSample[] = [];
    const rejected: string[] = [];
    await source.start((sample) => void samples.push(sample), (reason) => void rejected.push(reason));
    try {
      await body(samples, rejected);
    } finally {
      await source.stop();
    }
  };
  const latest = (samples: RawSample[]) => samples.at(-1)?.channels ?? {};

  it('follows values by subscription; a Bad status makes that channel missing, not the sample; an unknown node is missing and counted', async () => {
    const nodes = checkNodeMap([
      { channel: 'pressure', nodeId: 'ns=1;s=Pump1.Pressure' },
      { channel: 'temperature', nodeId: 'ns=1;s=Pump1.Temperature' },
      { channel: 'flow', nodeId: 'ns=1;s=Pump1.NoSuchFlow' },
    ]);
    await run(new OpcuaSource(options({ nodes })), async (samples, rejected) => {
      await waitFor('values', () => (latest(samples).pressure === 2.5 && latest(samples).temperature === 61.5) || undefined, 15_000);
      assert.ok(Number.isNaN(latest(samples).flow), 'the unknown node is missing');
      assert.ok(rejected.includes('opcua_status'), 'and counted');
      plc.set(plc.pressure, 3.25);
      await waitFor('the change', () => latest(samples).pressure === 3.25 || undefined, 5_000);
      plc.set(plc.temperature, 0, StatusCodes.BadSensorFailure);
      await waitFor('temperature missing', () => Number.isNaN(latest(samples).temperature) || undefined, 5_000);
      assert.equal(latest(samples).pressure, 3.25, 'the rest of the sample goes out');
      plc.set(plc.temperature, 62);
      await waitFor('temperature back', () => latest(samples).temperature === 62 || undefined, 5_000);
      const statuses = rejected.filter((reason) => reason === 'opcua_status').length;
      assert.ok(statuses >= 2, `the bad value counted (${statuses})`);
      const gaps = samples.slice(1).map((sample, index) => sample.ts - (samples[index]?.ts ?? 0));
      gaps.sort((a, b) => a - b);
      assert.ok(Math.abs((gaps[Math.floor(gaps.length / 2)] ?? 0) - 100) <= 20, 'a sample every 100 ms');
    });
  });

  it('signs and encrypts (Basic256Sha256) with a user and password', async () => {
    await run(new OpcuaSource(options({ securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256' })), async (samples) => {
      await waitFor('values over an encrypted channel', () => Number.isFinite(latest(samples).pressure) || undefined, 20_000);
    });
    const links: string[] = [];
    await run(new OpcuaSource(options({ password: 'wrong', onLink: (up, detail) => void links.push(`${String(up)} ${detail}`) })), async (samples, rejected) => {
      await waitFor('refused and retried', () => links.length >= 2 || undefined, 10_000);
      assert.equal(samples.length, 0);
      assert.ok(rejected.every((reason) => reason === 'opcua_down'));
      assert.ok(links.every((link) => link.startsWith('false')) && !links.some((link) => link.includes('wrong')), 'never up, and the password not repeated');
    });
  });

  it("survives the server's restart: resumes within 5 s of it coming back, and counts every sample lost", async () => {
    await run(new OpcuaSource(options()), async (samples, rejected) => {
      await waitFor('flowing', () => samples.length >= 10 || undefined, 15_000);
      await plc.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const before = samples.length;
      await plc.start();
      const upAt = Date.now();
      await waitFor('flowing again', () => (samples.length > before && Number.isFinite(latest(samples).pressure)) || undefined, 10_000);
      const resumedS = (Date.now() - upAt) / 1000;
      assert.ok(resumedS < 5, `resumed ${resumedS.toFixed(1)} s after the server came back`);
      const lost = rejected.filter((reason) => reason === 'opcua_down').length;
      assert.ok(lost >= 15, `the outage's samples counted lost (${lost})`);
    });
  });

  it('checks a node map at start, listing every problem', () => {
    assert.throws(() => checkNodeMap([{ channel: 'a', nodeId: 'Pump1.Pressure' }, { nodeId: 'ns=1;i=5' }, { channel: 'a', nodeId: 'ns=2;s=x' }]), (error: Error) => {
      assert.match(error.message, /node 0: nodeId must be an OPC UA node id/);
      assert.match(error.message, /node 1: channel must be a name/);
      assert.match(error.message, /channel a is mapped twice/);
      return true;
    });
    assert.deepEqual(checkNodeMap({ flow: 'nsu=urn:plc;s=Flow', valve: 'ns=3;i=1001' }), [
      { channel: 'flow', nodeId: 'nsu=urn:plc;s=Flow' },
      { channel: 'valve', nodeId: 'ns=3;i=1001' },
    ]);
  });
});
