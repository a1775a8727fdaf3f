import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NODE_FLAGS, type StageName } from '@vigil/shared/runtime';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A child process whose output is kept (shown when a test fails) and which is always reaped. */
export class ManagedProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 2000) this.output.splice(0, 1000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    LIVE.add(this);
    void this.exited.then(() => LIVE.delete(this));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  text(): string {
    return this.output.join('');
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 8_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const result = await this.exited;
      clearTimeout(timer);
      return result;
    }
    return this.exited;
  }

  kill9(): Promise<unknown> {
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

const LIVE = new Set<ManagedProcess>();

// A test that throws must not leave servers behind: reap whatever is still running at exit.
process.once('exit', () => {
  for (const managed of LIVE) managed.child.kill('SIGKILL');
});

export function startProcess(name: string, command: string, args: string[], env: Record<string, string> = {}): ManagedProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ManagedProcess(name, child);
}

/** A pipeline stage, as named in the topology table. */
export type ServiceName = StageName;

/**
 * V8 flags added after production's for a benchmark that compares them (`VIGIL_EXTRA_NODE_FLAGS=
 * "--trace-gc" npm run soak`); empty in tests, so what they check is what ships.
 */
const EXTRA_NODE_FLAGS = (process.env.VIGIL_EXTRA_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** Starts a service from its built bundle with production's V8 flags and environment (`npm run build` first). */
export function startService(name: ServiceName, env: Record<string, string>): ManagedProcess {
  return startProcess(name, process.execPath, [...SERVICE_NODE_FLAGS, ...EXTRA_NODE_FLAGS, `services/${name}/dist/main.js`], { ...SERVICE_ENV, VIGIL_LOG_LEVEL: 'warn', ...env });
}
