/**
 * The receive loop every downstream stage runs: one frame at a time from its PULL socket,
 * decoded and validated, checked for order by seq, handed to the stage. Bad input is a normal
 * event here: it is counted by reason, logged at a bounded rate, and the loop goes on.
 */
import type { RateLimitedLog } from './logger.js';
import { decodeMessage, isMessageError, type MessageKind, type PipelineMessage } from './messages.js';
import type { SeqTracker, ServiceMetrics } from './metrics.js';
import { PullPipe, PushPipe } from './pipe.js';
import type { PipeGuard } from './pipe-guard.js';

export interface StageLoopOptions<K extends MessageKind> {
  input: PullPipe;
  kind: K;
  metrics: ServiceMetrics;
  seq: SeqTracker;
  rejectLog: RateLimitedLog;
  /** Handles one valid message; a throw is counted as `handler_error` and the loop goes on. */
  handle(message: Extract<PipelineMessage, { kind: K }>): Promise<void> | void;
}

export async function runStageLoop<K extends MessageKind>(options: StageLoopOptions<K>): Promise<void> {
  const { input, kind, metrics, seq, rejectLog, handle } = options;
  const reject = (reason: string, detail: string) => {
    metrics.countMessage('rejected', reason);
    rejectLog.warn(reason, { reason, detail }, 'message rejected');
  };
  for await (const frames of input.messages()) {
    const frame = frames[0];
    if (frames.length !== 1 || !frame) {
      reject('multipart', `${frames.length} frames`);
      continue;
    }
    let message: Extract<PipelineMessage, { kind: K }>;
    try {
      message = decodeMessage(frame, kind);
    } catch (error) {
      if (!isMessageError(error)) throw error;
      reject(error.reason, error.message);
      continue;
    }
    if (!seq.observe(message.asset, message.seq)) {
      reject('out_of_order', `asset ${message.asset} seq ${message.seq} already seen`);
      continue;
    }
    try {
      await handle(message);
    } catch (error) {
      reject('handler_error', error instanceof Error ? error.message : String(error));
    }
  }
}

/**
 * Stops a stage's sockets in the order that loses nothing that can be saved: close the input
 * (no new work), let the message in hand finish for up to `drainMs`, then close the output,
 * whose linger still delivers what is queued.
 */
export async function stopStageSockets(
  input: PullPipe,
  loop: Promise<void>,
  output: { close(): void } | undefined,
  drainMs = 1_000,
): Promise<void> {
  input.close();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
  clearTimeout(timer);
  output?.close();
  await loop;
}

export interface StagePipeSettings {
  input: { endpoint: string; highWaterMark: number };
  /** None for the last stage, which publishes over MQTT. */
  output?: { endpoint: string; highWaterMark: number };
}

/**
 * A stage's sockets: its input bound, its output (if it has one) connected with the `block`
 * policy (nothing is shed inside the pipeline; a slow stage slows the ones before it), both with
 * the pipeline key.
 */
export async function openStagePipes(
  settings: StagePipeSettings,
  guard: PipeGuard,
  lingerMs = 2_000,
): Promise<{ input: PullPipe; output: PushPipe | undefined }> {
  const output = settings.output ? new PushPipe({ ...settings.output, whenFull: 'block', lingerMs, ...guard.output }) : undefined;
  try {
    return { input: await PullPipe.bind({ ...settings.input, ...guard.input }), output };
  } catch (error) {
    output?.close();
    throw error;
  }
}
