/**
 * One way to build a stage: the kit owns what every stage has (metrics, the rejection log, the
 * pipes with the pipeline key, the ops server, the ordered stop), and a stage brings only its own
 * parts. A middle stage (startStage) brings its handler: the kit runs the receive loop with seq
 * tracking and a health check that it is alive, and `forward` builds the outgoing envelope from
 * the incoming one, so no stage writes it. The source (startSourceStage) brings what produces
 * readings, started once the ops server answers.
 */
import { Counter } from 'prom-client';
import type { HealthCheck, RouteHandler } from './ops-server.js';
import { PushPipe, type FullPolicy } from './pipe.js';
import { OpsServer } from './ops-server.js';
import { stopAll, type RunningService, type Stoppable } from './lifecycle.js';
import { RateLimitedLog, type Logger } from './logger.js';
import { encodeMessage, SCHEMA_VERSION, type MessageKind, type PipelineMessage } from './messages.js';
import { createServiceMetrics, SeqTracker, type ServiceMetrics } from './metrics.js';
import { pipeGuard } from './pipe-guard.js';
import type { PipeKeySettings } from './pipe-keys.js';
import { openStagePipes, runStageLoop, stopStageSockets, type StagePipeSettings } from './stage-loop.js';
import type { StageName } from './topology.js';

/** The settings every stage with an input has (commonSchema, input, and output but for the last). */
export type StageSettings = StagePipeSettings & PipeKeySettings & { sysfsRoot: string; metricsHost: string; metricsPort: number };

type MessageOf<K extends MessageKind> = Extract<PipelineMessage, { kind: K }>;
/** What a stage adds to the envelope it forwards: its kind and its payload. */
type PayloadOf<K extends MessageKind> = Omit<MessageOf<K>, 'v' | 'asset' | 'seq' | 'ts' | 'ingestTs'>;

export interface StageKit {
  metrics: ServiceMetrics;
  rejectLog: RateLimitedLog;
  seq: SeqTracker;
  /** Sends the next stage's message for `from`: its asset, seq and times, with this payload. */
  forward<K extends MessageKind>(from: Pick<PipelineMessage, 'asset' | 'seq' | 'ts' | 'ingestTs'>, payload: PayloadOf<K>): Promise<boolean>;
}

export interface StageParts<K extends MessageKind> {
  /** Handles one valid message; a throw is counted as `handler_error` and the loop goes on. */
  handle(message: MessageOf<K>): Promise<void> | void;
  /** The stage's own checks for /healthz, besides the kit's `input` (the loop is alive). */
  healthChecks?: HealthCheck[];
  /** What the stage opened (Redis, writers, watchers), in the order opened: stopped in reverse, after the pipes. */
  parts?: Stoppable[];
  /** Fields of the "started" log line. */
  started?: Record<string, unknown>;
}

export interface StageOptions<K extends MessageKind> {
  stage: StageName;
  kind: K;
  settings: StageSettings;
  logger: Logger;
  /** How long close() may keep delivering the output's queue. */
  outputLingerMs?: number;
  setup(kit: StageKit): Promise<StageParts<K>>;
}

export interface RunningStage extends RunningService {
  readonly opsPort: number;
  readonly metrics: ServiceMetrics;
}

export async function startStage<K extends MessageKind>(options: StageOptions<K>): Promise<RunningStage> {
  const { stage, kind, settings, logger } = options;
  const metrics = createServiceMetrics(stage, settings.sysfsRoot, logger);
  const rejectLog = new RateLimitedLog(logger);
  const seq = new SeqTracker(metrics, stage);
  const { input, output } = await openStagePipes(settings, pipeGuard(settings, metrics, rejectLog), options.outputLingerMs);
  const kit: StageKit = {
    metrics,
    rejectLog,
    seq,
    forward: (from, payload) => {
      if (!output) throw new Error(`${stage} has no output to forward to`);
      return output.send(encodeMessage({ v: SCHEMA_VERSION, asset: from.asset, seq: from.seq, ts: from.ts, ingestTs: from.ingestTs, ...payload } as unknown as PipelineMessage));
    },
  };
  let parts: StageParts<K>;
  try {
    parts = await options.setup(kit);
  } catch (error) {
    input.close();
    output?.close();
    throw error;
  }
  let loopRunning = true;
  const loop = runStageLoop({ input, kind, metrics, seq, rejectLog, handle: parts.handle }).finally(() => {
    loopRunning = false;
  });
  const ops = await OpsServer.start({
    host: settings.metricsHost,
    port: settings.metricsPort,
    registry: metrics.registry,
    healthChecks: [{ name: 'input', healthy: () => loopRunning }, ...(parts.healthChecks ?? [])],
  });
  logger.info({ input: settings.input.endpoint, output: settings.output?.endpoint, opsPort: ops.port, ...parts.started }, `${stage} running`);
  return {
    opsPort: ops.port,
    metrics,
    stop: async () => {
      const clean = await stopAll(
        [{ name: 'ops-server', stop: () => ops.stop() }, ...(parts.parts ?? []), { name: 'pipes', stop: () => stopStageSockets(input, loop, output) }],
        logger,
      );
      if (!clean) throw new Error(`${stage} did not stop cleanly`);
    },
  };
}

/** What the first stage has: the common settings and an output that may shed when full. */
export type SourceStageSettings = PipeKeySettings & {
  sysfsRoot: string;
  metricsHost: string;
  metricsPort: number;
  output: { endpoint: string; highWaterMark: number; whenFull: FullPolicy; stallResetMs: number };
};

export interface SourceKit {
  metrics: ServiceMetrics;
  rejectLog: RateLimitedLog;
  /** The output to the next stage, with the pipeline key. */
  output: PushPipe;
}

export interface SourceParts {
  /** Starts producing: called once the ops server answers (a source waiting for its peer is alive, and says so). */
  start(): Promise<void>;
  healthChecks?: HealthCheck[];
  /** Extra routes on the ops server ("METHOD /path"). */
  routes?: Record<string, RouteHandler>;
  /** What the stage opened, in the order opened: stopped in reverse, before the output is closed. */
  parts?: Stoppable[];
  started?: Record<string, unknown>;
}

export interface SourceStageOptions {
  stage: StageName;
  settings: SourceStageSettings;
  logger: Logger;
  setup(kit: SourceKit): Promise<SourceParts>;
}

export async function startSourceStage(options: SourceStageOptions): Promise<RunningStage> {
  const { stage, settings, logger } = options;
  const metrics = createServiceMetrics(stage, settings.sysfsRoot, logger);
  const rejectLog = new RateLimitedLog(logger);
  const resets = new Counter({
    name: 'vigil_output_socket_resets_total',
    help: 'Times the output socket was replaced after refusing every reading for the stall limit.',
    registers: [metrics.registry],
  });
  const output = new PushPipe({
    endpoint: settings.output.endpoint,
    ...pipeGuard(settings, metrics, rejectLog).output,
    highWaterMark: settings.output.highWaterMark,
    // By default a reading that cannot be queued is shed at the source, counted, and visible as a
    // seq gap downstream: a stalled pipeline must not grow this process without bound.
    whenFull: settings.output.whenFull,
    lingerMs: 2_000,
    stallResetMs: settings.output.stallResetMs,
    onStallReset: (stalledMs) => {
      resets.inc();
      logger.warn({ stalledMs, endpoint: settings.output.endpoint }, 'output refused every reading; replaced its socket (what it held is shed, visible as a seq gap)');
    },
  });
  let parts: SourceParts;
  try {
    parts = await options.setup({ metrics, rejectLog, output });
  } catch (error) {
    output.close();
    throw error;
  }
  const ops = await OpsServer.start({
    host: settings.metricsHost,
    port: settings.metricsPort,
    registry: metrics.registry,
    healthChecks: parts.healthChecks ?? [],
    routes: parts.routes ?? {},
  });
  const stop = async () => {
    const clean = await stopAll(
      // stopAll goes in reverse: the stage's parts (what produces readings first), then the output
      // (delivering what it holds), then the ops server.
      [{ name: 'ops-server', stop: () => ops.stop() }, { name: 'output', stop: () => output.close() }, ...(parts.parts ?? [])],
      logger,
    );
    if (!clean) throw new Error(`${stage} did not stop cleanly`);
  };
  try {
    if (!(await output.waitForPeer(5_000))) {
      logger.warn({ output: settings.output.endpoint }, 'next stage not connected yet; readings are shed (and counted) until it is');
    }
    await parts.start();
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  logger.info({ output: settings.output.endpoint, opsPort: ops.port, ...parts.started }, `${stage} running`);
  return { opsPort: ops.port, metrics, stop };
}
