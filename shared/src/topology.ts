/**
 * The pipeline's one topology table: each stage, its ops port, its input port and the stage it
 * sends to. The services' config defaults, the test harness and the local stack derive from it,
 * and a test holds docker-compose.yml and the Prometheus scrape list to it.
 */
export const STAGES = ['sensor-reader', 'preprocessor', 'inference', 'adaptive-threshold', 'alert-publisher'] as const;
export type StageName = (typeof STAGES)[number];

export interface StagePlace {
  /** /metrics and /healthz. */
  opsPort: number;
  /** The ZeroMQ PULL port this stage binds; the reader has none (its input is the source). */
  inputPort?: number;
  /** The stage this one sends to; the publisher has none (it publishes over MQTT). */
  next?: StageName;
}

export const TOPOLOGY: Readonly<Record<StageName, Readonly<StagePlace>>> = {
  'sensor-reader': { opsPort: 9101, next: 'preprocessor' },
  preprocessor: { opsPort: 9102, inputPort: 5556, next: 'inference' },
  inference: { opsPort: 9103, inputPort: 5557, next: 'adaptive-threshold' },
  'adaptive-threshold': { opsPort: 9104, inputPort: 5558, next: 'alert-publisher' },
  'alert-publisher': { opsPort: 9105, inputPort: 5559 },
};

/** Where a stage binds by default: loopback (compose binds its private network instead). */
export function defaultInputEndpoint(stage: StageName): string {
  const port = TOPOLOGY[stage].inputPort;
  if (port === undefined) throw new Error(`${stage} has no input`);
  return `tcp://127.0.0.1:${port}`;
}

/** Where a stage sends by default: the next stage's input on this machine. */
export function defaultOutputEndpoint(stage: StageName): string {
  const next = TOPOLOGY[stage].next;
  if (next === undefined) throw new Error(`${stage} sends to no stage`);
  return defaultInputEndpoint(next);
}

/**
 * Messages queued at each input and output between the middle stages. Those queues block (never
 * drop), so a stopped stage's backlog waits in the reader's queue, where it is shed and counted;
 * 1,000 is 2 s at 50 assets × 10 Hz and about 3.5 MB of a stage's memory (10,000 took the
 * preprocessor past its 64 MiB limit with inference stopped).
 */
export const STAGE_QUEUE_HWM = 1_000;
