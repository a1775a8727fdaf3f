/**
 * The alert-publisher as a process for a test: its settings on free ports against the test's
 * broker, a ZeroMQ sender standing for the adaptive-threshold, and decisions as that stage sends
 * them. What the publisher's test files share.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { encodeMessage, SCHEMA_VERSION, type AssetState } from '@vigil/shared/runtime';
import { startHealthy } from './pipeline.js';
import { freePort } from './ports.js';
import type { ManagedProcess } from './processes.js';

export interface DecisionFields {
  seq: number;
  asset: string;
  state: AssetState;
  changed: boolean;
  ts: number;
  score?: number;
  contributions?: Record<string, number>;
}

/** A decision frame as the adaptive-threshold sends it (threshold 1, model m@1). */
export function decisionFrame(fields: DecisionFields): Buffer {
  return encodeMessage({
    v: SCHEMA_VERSION,
    kind: 'decision',
    asset: fields.asset,
    seq: fields.seq,
    ts: fields.ts,
    ingestTs: Date.now(),
    state: fields.state,
    changed: fields.changed,
    since: Date.UTC(2026, 5, 1),
    score: fields.score ?? 5,
    threshold: { high: 1, low: 0.5 },
    contributions: fields.contributions ?? { vibration1: 0.8, current: 0.2 },
    model: { name: 'm', version: '1' },
  });
}

export interface PublisherUnderTest {
  publisher: ManagedProcess;
  upstream: Push;
  env: Record<string, string>;
  metricsPort: number;
  /** Starts it again with the same settings (after a stop or a kill -9). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the publisher for `device` on `brokerUrl`, with `extra` settings, its outbox in a folder of its own. */
export async function startPublisherUnderTest(brokerUrl: string, device: string, extra: Record<string, string> = {}): Promise<PublisherUnderTest> {
  const metricsPort = await freePort();
  const env = {
    VIGIL_DEVICE_ID: device,
    VIGIL_MQTT_URL: brokerUrl,
    VIGIL_ALERT_PUBLISHER_INPUT: `tcp://127.0.0.1:${await freePort()}`,
    VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(metricsPort),
    VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
    ...extra,
  };
  const upstream = new Push({ linger: 2000 });
  upstream.connect(env.VIGIL_ALERT_PUBLISHER_INPUT);
  const running: PublisherUnderTest = {
    publisher: await startHealthy('alert-publisher', env, metricsPort),
    upstream,
    env,
    metricsPort,
    restart: async () => {
      running.publisher = await startHealthy('alert-publisher', env, metricsPort);
    },
    stop: async () => {
      upstream.close();
      await running.publisher.stop();
    },
  };
  return running;
}
