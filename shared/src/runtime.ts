/**
 * `@vigil/shared/runtime`: what every stage runs on. Config, logging, metrics and the ops server,
 * the ZeroMQ pipes and their keys, the message schema, the stage kit and the topology, Redis,
 * the clock, lifecycle. The other sub-paths: features, model, detection.
 */
export * from './config.js';
export * from './lifecycle.js';
export * from './logger.js';
export * from './messages.js';
export * from './metrics.js';
export * from './ops-server.js';
export * from './pipe.js';
export * from './pipe-keys.js';
export * from './pipe-guard.js';
export * from './redis.js';
export * from './sysfs.js';
export * from './csv-format.js';
export * from './stage-loop.js';
export * from './wall-clock.js';
export * from './node-runtime.js';
export * from './redis-state.js';
export * from './random.js';
export * from './live-heap.js';
export * from './sensor-time.js';
export * from './asset-slots.js';
export * from './device-identity.js';
export * from './topology.js';
export * from './stage-kit.js';
export * from './reconnect-backoff.js';
export * from './operator-commands.js';
export * from './assets-file.js';
export * from './settings-file.js';
