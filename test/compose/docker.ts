/**
 * The Docker engine and docker-compose, as the compose tests drive them: the classic builder
 * (what balena's builders and a Docker 20.10 engine without BuildKit run), commands with their
 * output kept for the failure message, and an engine started on demand when the tests run as
 * root on a machine that has dockerd but no running daemon (CI).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../harness/ports.js';
import { ROOT } from '../harness/processes.js';

export { ROOT };
const ENV = { ...process.env, DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; rejects with its output when it fails (unless `allowFailure`). */
export function run(command: string, args: string[], options: { timeoutMs?: number; allowFailure?: boolean; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? ROOT, env: ENV, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (code !== 0 && !options.allowFailure) {
          reject(new Error(`${command} ${args.join(' ')} failed (${error?.message})\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
        } else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a long command with its output appended to a log file (image builds print a lot). */
export function runLogged(command: string, args: string[], logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = openSync(logFile, 'a');
    const child = spawn(command, args, { cwd: ROOT, env: ENV, stdio: ['ignore', out, out] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}; see ${logFile}`));
    });
  });
}

async function engineAnswers(): Promise<boolean> {
  return (await run('docker', ['info', '--format', '{{.ServerVersion}}'], { allowFailure: true, timeoutMs: 15_000 })).code === 0;
}

/**
 * Makes sure a Docker engine answers. Without one, and as root with dockerd installed, starts
 * `dockerd --storage-driver=vfs` (the driver that works inside a container or VM without
 * overlay support) and registers the qemu binfmt handlers for arm64 builds.
 */
export async function ensureEngine(): Promise<void> {
  if (await engineAnswers()) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/dockerd')) {
    throw new Error('no Docker engine answers: start one (or run as root with docker.io installed)');
  }
  const logDir = join(tmpdir(), 'vigil-dockerd');
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, 'dockerd.log'), 'a');
  spawn('dockerd', ['--storage-driver=vfs'], { detached: true, stdio: ['ignore', log, log] }).unref();
  await waitFor('the Docker engine', async () => (await engineAnswers()) || undefined, 60_000, 500);
}

/** Registers qemu's binfmt handlers (so arm64 binaries run), mounting binfmt_misc if needed. */
export async function ensureArm64Emulation(): Promise<void> {
  if (existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) return;
  if (!existsSync('/proc/sys/fs/binfmt_misc/register')) {
    await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
  }
  await run('update-binfmts', ['--enable', 'qemu-aarch64']);
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) throw new Error('qemu-aarch64 binfmt handler is not registered');
}

/** Builds the stand-in base images (debootstrap) under the names the project's files use. */
export async function buildStandins(arch: 'amd64' | 'arm64', logFile: string): Promise<void> {
  await runLogged('sh', [join(ROOT, 'test/compose/standins/build-standins.sh'), arch], logFile, 30 * 60_000);
}

/** A scratch folder for logs of one test run. */
export function logFolder(name: string): string {
  const dir = join(tmpdir(), `vigil-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
