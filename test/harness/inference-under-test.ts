/**
 * The inference service in this process on free ports, fed through a real ZeroMQ PUSH socket and
 * read through a real PULL socket: what the inference tests share.
 */
import { pino } from 'pino';
import { Push } from 'zeromq';
import { decodeMessage, PullPipe, type ScoreMessage } from '@vigil/shared/runtime';
import { loadInferenceConfig } from '../../services/inference/src/config.js';
import { startInference, type Inference } from '../../services/inference/src/inference.js';
import { freePort } from './ports.js';

export interface InferenceUnderTest {
  service: Inference;
  upstream: Push;
  /** Every score the service has sent, in arrival order. */
  scores: ScoreMessage[];
  opsPort: number;
  stop(): Promise<void>;
}

export async function startInferenceUnderTest(settings: Record<string, unknown>): Promise<InferenceUnderTest> {
  const inputPort = await freePort();
  const outputPort = await freePort();
  const opsPort = await freePort();
  const scores: ScoreMessage[] = [];
  const downstream = await PullPipe.bind({ endpoint: `tcp://127.0.0.1:${outputPort}`, highWaterMark: 10_000 });
  void (async () => {
    for await (const [frame] of downstream.messages()) scores.push(decodeMessage(frame as Buffer, 'score'));
  })();
  const service = await startInference(
    loadInferenceConfig({
      metricsPort: opsPort,
      metricsHost: '127.0.0.1',
      input: { endpoint: `tcp://127.0.0.1:${inputPort}` },
      output: { endpoint: `tcp://127.0.0.1:${outputPort}` },
      ...settings,
    }),
    pino({ level: 'silent' }),
  );
  const upstream = new Push({ linger: 1000 });
  upstream.connect(`tcp://127.0.0.1:${inputPort}`);
  return {
    service,
    upstream,
    scores,
    opsPort,
    stop: async () => {
      upstream.close();
      await service.stop();
      downstream.close();
    },
  };
}
