/**
 * npm run bench:floor [-- --messages 3000]
 * The latency floor under the pipeline's numbers: five Node processes relaying a reading-sized
 * JSON message over ZeroMQ PUSH/PULL (TCP, loopback) at 100 Hz, four hops, no work at all. What
 * `bench:pipeline` measures above this is the stages' own work and garbage collection.
 * Each process is this file run with a role: source, relay or sink.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pull, Push } from 'zeromq';
// The clock the stages' latency histograms use, so the floor and bench:pipeline are measured alike.
import { preciseNowMs } from '@vigil/shared/runtime';
import { freePort } from '../test/harness/ports.js';
import { machineDescription, quantile, table } from './stats.js';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { messages: { type: 'string', default: '3000' } } });
const messages = Number(args.messages);
const [role, inPort, outPort] = positionals;

if (role === 'source') {
  const output = new Push({ immediate: true });
  output.connect(`tcp://127.0.0.1:${outPort}`);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (let seq = 0; seq < messages; seq += 1) {
    await output.send(JSON.stringify({ seq, sentAt: preciseNowMs(), channels: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`channel${i}`, Math.random()])) }));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  output.close();
} else if (role === 'relay' || role === 'sink') {
  const input = new Pull();
  await input.bind(`tcp://127.0.0.1:${inPort}`);
  const output = role === 'relay' ? new Push({ immediate: true }) : undefined;
  output?.connect(`tcp://127.0.0.1:${outPort}`);
  const latencies: number[] = [];
  for await (const [frame] of input) {
    const message = JSON.parse(String(frame)) as { sentAt: number };
    if (output) await output.send(JSON.stringify(message));
    else latencies.push(preciseNowMs() - message.sentAt);
    if (latencies.length === messages) break;
  }
  if (role === 'sink') console.log(JSON.stringify({ p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies) }));
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const run = (...roleArgs: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', self, ...roleArgs, '--messages', String(messages)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sink = run('sink', String(ports[0]));
  const relays = [1, 2, 3].map((i) => run('relay', String(ports[i]), String(ports[i - 1])));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  run('source', '0', String(ports[3]));
  let output = '';
  sink.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => sink.once('exit', resolve));
  for (const relay of relays) relay.kill();
  const result = JSON.parse(output.trim()) as { p50: number; p99: number; max: number };
  console.log(`\nTransport floor: ${messages} messages at 100 Hz through 4 ZeroMQ hops between 5 Node processes, no work (${machineDescription()}):\n`);
  console.log(table(['p50 ms', 'p99 ms', 'max ms'], [[result.p50, result.p99, result.max]]));
}
