import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { envPrefix, generatePipeKeys, pipeKeysFromSecret, STAGES, TOPOLOGY } from '@vigil/shared/runtime';
import { healthz } from './metrics.js';
import { defaultTestBundle } from './model-fixture.js';
import { freePort, waitFor } from './ports.js';
import { startService, type ManagedProcess, type ServiceName } from './processes.js';
import { startMosquitto, startRedis, type TestServer } from './servers.js';

/** The stages in pipeline order: the topology table's. */
export const PIPELINE_ORDER: ServiceName[] = [...STAGES];

type InputStage = Exclude<ServiceName, 'sensor-reader'>;

export interface PipelinePorts {
  metrics: Record<ServiceName, number>;
  /** Input PULL port of each stage after the sensor-reader. */
  input: Record<InputStage, number>;
}

/** The topology table's shape on free ports, so tests run beside each other and a live stack. */
export async function allocatePipelinePorts(): Promise<PipelinePorts> {
  const metrics = {} as Record<ServiceName, number>;
  const input = {} as Record<InputStage, number>;
  for (const name of PIPELINE_ORDER) {
    metrics[name] = await freePort();
    if (TOPOLOGY[name].inputPort !== undefined) input[name as InputStage] = await freePort();
  }
  return { metrics, input };
}

const endpoint = (port: number) => `tcp://127.0.0.1:${port}`;

/** The environment that wires each service to its neighbours on the test's ports, by the topology table. */
export function pipelineEnv(
  ports: PipelinePorts,
  common: { redisUrl: string; mqttUrl: string; deviceId: string; modelPath: string; outboxPath: string; pipeSecretKey?: string },
): Record<ServiceName, Record<string, string>> {
  // A pipeline key as on a device: every pipeline test runs its ZeroMQ hops over CURVE.
  const shared = {
    VIGIL_REDIS_URL: common.redisUrl,
    VIGIL_MQTT_URL: common.mqttUrl,
    VIGIL_DEVICE_ID: common.deviceId,
    VIGIL_PIPE_SECRET_KEY: common.pipeSecretKey ?? generatePipeKeys().secretKey,
  };
  const env = {} as Record<ServiceName, Record<string, string>>;
  for (const name of PIPELINE_ORDER) {
    const prefix = envPrefix(name);
    const { inputPort, next } = TOPOLOGY[name];
    env[name] = {
      ...shared,
      [`${prefix}_METRICS_PORT`]: String(ports.metrics[name]),
      ...(inputPort !== undefined ? { [`${prefix}_INPUT`]: endpoint(ports.input[name as InputStage]) } : {}),
      ...(next !== undefined ? { [`${prefix}_OUTPUT`]: endpoint(ports.input[next as InputStage]) } : {}),
    };
  }
  // Read only on the mqtt source: the test's broker, as the alerts'.
  env['sensor-reader'].VIGIL_SENSOR_READER_MQTT_URL = common.mqttUrl;
  env.inference.VIGIL_INFERENCE_MODEL_PATH = common.modelPath;
  env['alert-publisher'].VIGIL_ALERT_PUBLISHER_OUTBOX_PATH = common.outboxPath;
  return env;
}

/** Starts a service and waits until its /healthz answers 200. */
export async function startHealthy(name: ServiceName, env: Record<string, string>, metricsPort: number): Promise<ManagedProcess> {
  const service = startService(name, env);
  try {
    await waitFor(`${name} /healthz`, async () => {
      if (!service.running) throw new Error(`${name} exited:\n${service.text()}`);
      return (await healthz(metricsPort)).status === 200 || undefined;
    });
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}

export interface RunningPipeline {
  /** Replaceable: a test that restarts Redis or the broker puts the new one here, and stop() stops that. */
  redis: TestServer;
  broker: TestServer;
  ports: PipelinePorts;
  env: Record<ServiceName, Record<string, string>>;
  services: Map<ServiceName, ManagedProcess>;
  /** Stops the services in pipeline order (the source first), then Redis and the broker. */
  stop(): Promise<Array<{ name: ServiceName; code: number | null }>>;
}

export interface PipelineOptions {
  deviceId: string;
  /** Settings of the sensor-reader (rate, speed, faults, sample count). */
  readerEnv?: Record<string, string>;
  /** Settings given to every service (a sysfs root, say). */
  everyServiceEnv?: Record<string, string>;
  /** false: start the four downstream services only (the caller starts the reader). */
  startReader?: boolean;
  /** A broker that keeps sessions and queued QoS 1 messages across its restart. */
  persistentBroker?: boolean;
  /** Redis with persistence in this folder (a test that restarts Redis); default: none. */
  redisDir?: string;
  /** A broker another pipeline shares (a second device on the plant's broker): not stopped with this one. */
  broker?: TestServer;
  /** Runs once Redis and the broker are up, before any service (a subscriber that must see everything). */
  beforeServices?: (servers: { redis: TestServer; broker: TestServer }) => Promise<void>;
}

/**
 * The whole pipeline for a test or a benchmark: the default detector's bundle (what learn mode
 * builds on no settings), a real Redis and mosquitto on
 * free ports, and the services as separate processes, started downstream first so every
 * stage's input is bound before anything is sent to it.
 */
export async function startPipeline(options: PipelineOptions): Promise<RunningPipeline> {
  // A copy of its own: the model folder's registry sits beside it, and a pipeline's registry (a
  // pin, a rollback) must not become every other test's that serves the same fixture.
  const modelPath = join(mkdtempSync(join(tmpdir(), 'vigil-models-')), 'current');
  cpSync(await defaultTestBundle(), modelPath, { recursive: true });
  const [redis, broker] = await Promise.all([
    startRedis(options.redisDir ? { dir: options.redisDir, persistence: 'rdb' } : {}),
    options.broker ?? startMosquitto({ persistent: options.persistentBroker ?? false }),
  ]);
  await options.beforeServices?.({ redis, broker });
  const ports = await allocatePipelinePorts();
  const env = pipelineEnv(ports, {
    redisUrl: redis.url,
    mqttUrl: broker.url,
    deviceId: options.deviceId,
    modelPath,
    outboxPath: join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl'),
  });
  for (const name of PIPELINE_ORDER) env[name] = { ...env[name], ...options.everyServiceEnv };
  env['sensor-reader'] = { ...env['sensor-reader'], VIGIL_SENSOR_READER_SIM_REPEAT_S: '0', ...options.readerEnv };
  const services = new Map<ServiceName, ManagedProcess>();
  const stop = async () => {
    const exits: Array<{ name: ServiceName; code: number | null }> = [];
    for (const name of PIPELINE_ORDER) {
      const service = services.get(name);
      if (service) exits.push({ name, code: (await service.stop()).code });
    }
    await Promise.all([running.redis.stop(), ...(options.broker ? [] : [running.broker.stop()])]);
    return exits;
  };
  const running: RunningPipeline = { redis, broker, ports, env, services, stop };
  try {
    for (const name of [...PIPELINE_ORDER].reverse()) {
      if (name === 'sensor-reader' && options.startReader === false) continue;
      services.set(name, await startHealthy(name, env[name], ports.metrics[name]));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return running;
}

/**
 * A ZeroMQ sender holding the pipeline's key, as a stage of this pipeline would: what a test uses
 * to push frames of its own into a stage (garbage from a stage gone wrong, not from a stranger).
 */
export function stageSender(pipeline: RunningPipeline, linger = 2_000): Push {
  const secret = pipeline.env.preprocessor.VIGIL_PIPE_SECRET_KEY;
  const keys = secret ? pipeKeysFromSecret(secret) : undefined;
  return new Push({
    linger,
    ...(keys ? { curveServerKey: keys.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey } : {}),
  });
}
