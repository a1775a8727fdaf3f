/**
 * npm run bench:floor [-- --messages 3000]
 * The latency floor under the pipeline's numbers: the five-process relay chain (relay-chain.ts)
 * at 100 Hz, four ZeroMQ hops, no work at all. What `bench:pipeline` measures above this is the
 * stages' own work and garbage collection.
 */
import { parseArgs } from 'node:util';
import { startRelayChain } from './relay-chain.js';
import { machineDescription, table } from './stats.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '3000' } } });
const messages = Number(args.messages);
const result = await startRelayChain(100, messages).then((chain) => chain.latency());
console.log(`\nTransport floor: ${messages} messages at 100 Hz through 4 ZeroMQ hops between 5 Node processes, no work (${machineDescription()}):\n`);
console.log(table(['p50 ms', 'p99 ms', 'max ms'], [[result.p50, result.p99, result.max]]));
