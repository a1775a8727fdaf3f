/**
 * The devices are aarch64: the inference image is built for linux/arm64 from the project's
 * Dockerfile under qemu emulation, and its self-check (train in the learn worker, load the bundle
 * in the lean runtime, score, a ZeroMQ round trip through the native addon) runs inside it. A
 * native module or an x86-only dependency that would break on a Pi fails here. The reader image
 * (the same build stage, so built in seconds after the first) must load serialport's native
 * binding for Modbus RTU from the prebuilt binaries in its package, and node-opcua.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { buildStandins, ensureArm64Emulation, ensureEngine, logFolder, run, runLogged } from './docker.js';

const BASE = 'node:20-bookworm-slim';
const IMAGE = 'vigiltest/inference:arm64';
const READER_IMAGE = 'vigiltest/sensor-reader:arm64';
const logs = logFolder('arm64');

/**
 * Builds one service's image for linux/arm64. The classic builder resolves FROM by name: the base
 * name points at the arm64 stand-in for the build, and at the host's one again after.
 */
async function buildArm64(service: string, opsPort: string, image: string, log: string): Promise<void> {
  const hostBase = (await run('docker', ['image', 'inspect', '-f', '{{.Id}}', BASE], { allowFailure: true })).stdout.trim();
  await run('docker', ['tag', `${BASE}-arm64`, BASE]);
  try {
    await runLogged('docker', ['build', '--platform', 'linux/arm64', '--build-arg', `SERVICE=${service}`, '--build-arg', `OPS_PORT=${opsPort}`, '-t', image, '.'], join(logs, log), 50 * 60_000);
  } finally {
    if (hostBase) await run('docker', ['tag', hostBase, BASE]);
  }
}

describe('the inference and reader images for linux/arm64', { timeout: 60 * 60_000 }, () => {
  before(async () => {
    await ensureEngine();
    await ensureArm64Emulation();
    await buildStandins('arm64', join(logs, 'standins.log'));
  });

  it('builds under emulation and passes its self-check inside the image', async () => {
    await buildArm64('inference', '9103', IMAGE, 'build.log');
    const architecture = (await run('docker', ['image', 'inspect', '-f', '{{.Architecture}}', IMAGE])).stdout.trim();
    assert.equal(architecture, 'arm64');

    const { stdout } = await run('docker', ['run', '--rm', '--platform', 'linux/arm64', IMAGE, 'node', 'dist/self-check.js'], { timeoutMs: 10 * 60_000, allowFailure: true });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok?: boolean; arch?: string; score?: number; error?: string };
    console.log(`arm64 self-check: ${stdout.trim()}`);
    assert.equal(result.error, undefined);
    assert.equal(result.ok, true);
    assert.equal(result.arch, 'arm64');
    assert.ok(Number.isFinite(result.score));
  });

  it("the reader image loads serialport's prebuilt arm64 binding (Modbus RTU) and node-opcua", async () => {
    await buildArm64('sensor-reader', '9101', READER_IMAGE, 'build-reader.log');
    const check = [
      "const binding = require('node-gyp-build')('/app/node_modules/@serialport/bindings-cpp');",
      "const opcua = require('node-opcua-client');",
      "console.log(JSON.stringify({ arch: process.arch, serialport: typeof binding.open, opcua: typeof opcua.OPCUAClient }));",
    ].join(' ');
    const { stdout, stderr } = await run('docker', ['run', '--rm', '--platform', 'linux/arm64', '-w', '/app', READER_IMAGE, 'node', '-e', check], { timeoutMs: 10 * 60_000, allowFailure: true });
    console.log(`arm64 reader: ${stdout.trim()}`);
    // node-opcua prints a warning of its own on stdout, after the line: take the line, not the last one.
    const result = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{"arch"')) ?? '{}') as { arch?: string; serialport?: string; opcua?: string };
    assert.deepEqual(result, { arch: 'arm64', serialport: 'function', opcua: 'function' }, stderr);
  });
});
