/**
 * What a stage's pipes need to refuse strangers: the pipeline key from its settings, and what to
 * do when a peer is refused (count it, and say so at a bounded rate, naming the likely cause).
 */
import type { RateLimitedLog } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import type { PullPipeOptions, PushPipeOptions } from './pipe.js';
import { pipeKeysOf, type PipeKeySettings } from './pipe-keys.js';

/** The options to spread into a stage's input and output pipes. */
export interface PipeGuard {
  input: Pick<PullPipeOptions, 'keys' | 'onRefused'>;
  output: Pick<PushPipeOptions, 'keys' | 'onRefused'>;
}

export function pipeGuard(settings: PipeKeySettings, metrics: ServiceMetrics, log: RateLimitedLog): PipeGuard {
  const keys = pipeKeysOf(settings);
  const withKeys = keys ? { keys } : {};
  return {
    input: {
      ...withKeys,
      onRefused(reason) {
        metrics.pipeRefused.inc({ direction: 'input', reason });
        log.warn(`pipe-refused-${reason}`, { reason }, 'refused a connection to the input: the sender does not hold the pipeline key');
      },
    },
    output: {
      ...withKeys,
      onRefused() {
        metrics.pipeRefused.inc({ direction: 'output', reason: 'refused' });
        log.warn(
          'pipe-refused-output',
          {},
          'the next stage refused this stage\'s handshake: give every stage the same VIGIL_PIPE_SECRET_KEY or VIGIL_PIPE_KEY_FILE (or none, on loopback)',
        );
      },
    },
  };
}
