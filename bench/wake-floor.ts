/**
 * The cost floor under `bench:rate`: five Node processes in the pipeline's shape (a source, three
 * relays, a sink) passing one reading-sized JSON message at a set rate over ZeroMQ PUSH/PULL, each
 * hop parsing it and sending it on, no other work. What a stage costs at that rate above its row is
 * the stage's own work; the row itself is what waking a Node process once a reading costs here.
 *
 * Run by `bench/rate.ts` (a role a process, killed when measured), or by hand:
 *   tsx bench/wake-floor.ts <source|relay|sink> <inPort> <outPort> --hz 10
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pull, Push } from 'zeromq';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '@vigil/shared/runtime';
import { freePort } from '../test/harness/ports.js';

export type FloorRole = 'source' | 'relay' | 'sink';

function reading(seq: number): string {
  return JSON.stringify({ seq, at: Date.now(), channels: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`channel${i}`, Math.random()])) });
}

async function runRole(role: FloorRole, inPort: number, outPort: number, hz: number): Promise<void> {
  if (role === 'source') {
    const output = new Push();
    output.connect(`tcp://127.0.0.1:${outPort}`);
    let seq = 0;
    setInterval(() => void output.send(reading(seq++)), 1000 / hz);
    return;
  }
  const input = new Pull();
  await input.bind(`tcp://127.0.0.1:${inPort}`);
  const output = role === 'relay' ? new Push() : undefined;
  output?.connect(`tcp://127.0.0.1:${outPort}`);
  for await (const [frame] of input) {
    const message = JSON.parse(String(frame)) as { seq: number };
    if (output) await output.send(JSON.stringify(message));
  }
}

export interface FloorChain {
  /** In the pipeline's order: source first, sink last. */
  children: ChildProcess[];
  stop(): void;
}

/** Starts the five floor processes at `hz`, with the services' V8 flags and environment; the sink is bound before anything sends to it. */
export async function startFloorChain(hz: number): Promise<FloorChain> {
  const self = fileURLToPath(import.meta.url);
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const run = (role: FloorRole, inPort: number, outPort: number) =>
    spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', self, role, String(inPort), String(outPort), '--hz', String(hz)], {
      env: { ...process.env, ...SERVICE_ENV },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  // ports[3] feeds the first relay, ports[0] the sink.
  const sink = run('sink', ports[0] as number, 0);
  const relays = [3, 2, 1].map((i) => run('relay', ports[i] as number, ports[i - 1] as number));
  // PUSH queues until its peer binds, so the order only matters for the first messages.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const source = run('source', 0, ports[3] as number);
  const children = [source, ...relays, sink];
  return { children, stop: () => children.forEach((child) => child.kill('SIGKILL')) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { hz: { type: 'string', default: '10' } } });
  const [role, inPort, outPort] = positionals;
  if (role !== 'source' && role !== 'relay' && role !== 'sink') {
    console.error('usage: tsx bench/wake-floor.ts <source|relay|sink> <inPort> <outPort> --hz 10');
    process.exit(2);
  }
  await runRole(role, Number(inPort), Number(outPort), Number(values.hz));
}
