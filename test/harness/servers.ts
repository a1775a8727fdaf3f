import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';
import { startProcess, type ManagedProcess } from './processes.js';

export interface TestServer {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A real redis-server from PATH on a free port, with no persistence unless a folder is given. */
export async function startRedis(options: { dir?: string; port?: number; persistence?: 'aof' | 'rdb' } = {}): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  // 'rdb' is what docker-compose.yml runs: a snapshot a minute, and one at shutdown.
  // Without a folder of its own, redis-server would load a dump.rdb from the working directory
  // (one a local redis left there once fed a stale threshold state into the pipeline tests).
  const persistence = !options.dir
    ? ['--dir', mkdtempSync(join(tmpdir(), 'vigil-redis-')), '--save', '', '--appendonly', 'no']
    : options.persistence === 'rdb'
      ? ['--dir', options.dir, '--appendonly', 'no', '--save', '60 1']
      : ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];
  const process = startProcess('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence]);
  await waitFor(`redis on ${port}`, () => portAccepts(port), 10_000);
  return { url: `redis://127.0.0.1:${port}`, port, process, stop: async () => void (await process.stop()) };
}

export interface MosquittoOptions {
  port?: number;
  /** Extra configuration lines (TLS, passwords); default: anonymous access. */
  extraConfig?: string[];
  /** Keep sessions and queued QoS 1 messages across a restart of the broker. */
  persistent?: boolean;
}

/** A real mosquitto from PATH on a free port. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  // Started as root, mosquitto drops to its own user, which must be able to write its database
  // here: without this a "persistent" broker kept nothing across a restart, and said so only
  // in its log.
  chmodSync(dir, 0o777);
  const configPath = join(dir, 'mosquitto.conf');
  const persistence = options.persistent ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false'];
  const extra = options.extraConfig ?? ['allow_anonymous true'];
  writeFileSync(configPath, [`listener ${port} 127.0.0.1`, ...persistence, ...extra, ''].join('\n'));
  const process = startProcess('mosquitto', mosquittoBinary(), ['-c', configPath]);
  await waitFor(`mosquitto on ${port}`, () => portAccepts(port), 10_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${process.text()}`);
  });
  return { url: `mqtt://127.0.0.1:${port}`, port, process, stop: async () => void (await process.stop()) };
}

/** Starts the same Redis again (same port, same data folder) after it was stopped. */
export async function restartRedis(stopped: TestServer): Promise<TestServer> {
  const process = startProcess('redis', 'redis-server', stopped.process.child.spawnargs.slice(1));
  await waitFor(`redis on ${stopped.port}`, () => portAccepts(stopped.port), 10_000);
  return { ...stopped, process, stop: async () => void (await process.stop()) };
}

/** Starts the same broker again (same port, same persistence folder) after it was stopped. */
export async function restartMosquitto(stopped: TestServer): Promise<TestServer> {
  const args = stopped.process.child.spawnargs.slice(1);
  const process = startProcess('mosquitto', mosquittoBinary(), args);
  await waitFor(`mosquitto on ${stopped.port}`, () => portAccepts(stopped.port), 10_000);
  return { ...stopped, process, stop: async () => void (await process.stop()) };
}

/** Debian installs mosquitto in /usr/sbin, which is not on every user's PATH. */
function mosquittoBinary(): string {
  const folders = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin']);
  const found = folders.map((folder) => join(folder, 'mosquitto')).find((path) => existsSync(path));
  return found ?? 'mosquitto';
}
