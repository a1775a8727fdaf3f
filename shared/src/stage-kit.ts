/**
 * One way to build a middle stage: the kit owns what every stage has (metrics, the rejection log,
 * the pipes with the pipeline key, the receive loop with seq tracking, the ops server with a
 * check that the loop is alive, the ordered stop), and a stage brings only its handler and its
 * own parts. `forward` builds the outgoing envelope from the incoming one, so no stage writes it.
 */
import type { HealthCheck } from './ops-server.js';
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
