/**
 * The floor under the pipeline's numbers: five Node processes in its shape (a source, three
 * relays, a sink) passing one reading-sized JSON message at a set rate over ZeroMQ PUSH/PULL (TCP,
 * loopback), each hop parsing it and sending it on, no other work. Two benches stand on it:
 * `bench:floor` (transport-floor.ts) times a counted run through it, the latency under
 * `bench:pipeline`; `bench:rate` measures what it costs while it runs, the cost of waking a Node
 * process once a reading. What a stage adds above either is its own work.
 *
 * Each process is this file run with a role:
 *   tsx bench/relay-chain.ts <source|relay|sink> <inPort> <outPort> --hz 10 [--messages N]
 * With `--messages` the source sends that many and the sink prints their latencies as JSON and
 * exits; without, both run until killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pull, Push } from 'zeromq';
// The clock the stages' latency histograms use, so the floor and bench:pipeline are measured alike.
import { preciseNowMs, SERVICE_ENV, SERVICE_NODE_FLAGS } from '@vigil/shared/runtime';
import { freePort } from '../test/harness/ports.js';
import { quantile } from './stats.js';

type Role = 'source' | 'relay' | 'sink';

export interface ChainLatency {
  p50: number;
  p99: number;
  max: number;
}

function reading(seq: number): string {
  return JSON.stringify({ seq, sentAt: preciseNowMs(), channels: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`channel${i}`, Math.random()])) });
}

async function runSource(outPort: number, hz: number, messages: number): Promise<void> {
  const output = new Push();
  output.connect(`tcp://127.0.0.1:${outPort}`);
  // Let the connection come up, so the first messages do not time the handshake.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // One send at a time (a ZeroMQ socket refuses a second while one is in progress: a rejection
  // would end the source and leave a counting sink waiting), each at its own due time, so the
  // rate holds without drifting.
  const periodMs = 1000 / hz;
  const started = performance.now();
  for (let seq = 0; messages === 0 || seq < messages; seq += 1) {
    await output.send(reading(seq));
    const due = started + (seq + 1) * periodMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  output.close();
}

async function runRelayOrSink(role: 'relay' | 'sink', inPort: number, outPort: number, messages: number): Promise<void> {
  const input = new Pull();
  await input.bind(`tcp://127.0.0.1:${inPort}`);
  const output = role === 'relay' ? new Push() : undefined;
  output?.connect(`tcp://127.0.0.1:${outPort}`);
  const latencies: number[] = [];
  for await (const [frame] of input) {
    const message = JSON.parse(String(frame)) as { sentAt: number };
    if (output) {
      await output.send(JSON.stringify(message));
      continue;
    }
    // Run until killed: keep nothing, so the floor's cost does not grow with the run.
    if (messages === 0) continue;
    latencies.push(preciseNowMs() - message.sentAt);
    if (latencies.length === messages) break;
  }
  const latency: ChainLatency = { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies) };
  console.log(JSON.stringify(latency));
  process.exit(0);
}

export interface RelayChain {
  /** In the pipeline's order: source first, sink last. */
  children: ChildProcess[];
  /** With `messages`: the sink's latencies once it has them all. */
  latency(): Promise<ChainLatency>;
  stop(): void;
}

/**
 * Starts the five processes at `hz`, with the services' V8 flags and environment; the sink and
 * relays are bound before the source sends. `messages` 0 runs until stopped.
 */
export async function startRelayChain(hz: number, messages = 0): Promise<RelayChain> {
  const self = fileURLToPath(import.meta.url);
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const run = (role: Role, inPort: number, outPort: number) =>
    spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', self, role, String(inPort), String(outPort), '--hz', String(hz), '--messages', String(messages)], {
      env: { ...process.env, ...SERVICE_ENV },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  // ports[3] feeds the first relay, ports[0] the sink.
  const sink = run('sink', ports[0] as number, 0);
  let output = '';
  sink.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const sinkExit = new Promise((resolve) => sink.once('exit', resolve));
  const relays = [3, 2, 1].map((i) => run('relay', ports[i] as number, ports[i - 1] as number));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const source = run('source', 0, ports[3] as number);
  const children = [source, ...relays, sink];
  const stop = () => children.forEach((child) => child.kill('SIGKILL'));
  return {
    children,
    stop,
    latency: async () => {
      // A chain that runs until stopped has no count to wait for: its sink would never exit.
      if (messages === 0) throw new Error('latency() needs a counted chain: start it with messages > 0');
      await sinkExit;
      stop();
      return JSON.parse(output.trim()) as ChainLatency;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { hz: { type: 'string', default: '10' }, messages: { type: 'string', default: '0' } } });
  const [role, inPort, outPort] = positionals;
  const messages = Number(values.messages);
  if (role === 'source') await runSource(Number(outPort), Number(values.hz), messages);
  else if (role === 'relay' || role === 'sink') await runRelayOrSink(role, Number(inPort), Number(outPort), messages);
  else {
    console.error('usage: tsx bench/relay-chain.ts <source|relay|sink> <inPort> <outPort> --hz 10 [--messages N]');
    process.exit(2);
  }
}
