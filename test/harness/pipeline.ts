import { freePort, waitFor } from './ports.js';
import { healthz } from './metrics.js';
import { startService, type ManagedProcess, type ServiceName } from './processes.js';

export const PIPELINE_ORDER: ServiceName[] = ['sensor-reader', 'preprocessor', 'inference', 'adaptive-threshold', 'alert-publisher'];

export interface PipelinePorts {
  metrics: Record<ServiceName, number>;
  /** Input PULL port of each stage after the sensor-reader. */
  input: Record<Exclude<ServiceName, 'sensor-reader'>, number>;
}

export async function allocatePipelinePorts(): Promise<PipelinePorts> {
  const metrics = {} as Record<ServiceName, number>;
  for (const name of PIPELINE_ORDER) metrics[name] = await freePort();
  return {
    metrics,
    input: {
      preprocessor: await freePort(),
      inference: await freePort(),
      'adaptive-threshold': await freePort(),
      'alert-publisher': await freePort(),
    },
  };
}

const endpoint = (port: number) => `tcp://127.0.0.1:${port}`;

/** The environment that wires each service to its neighbours on the test's ports. */
export function pipelineEnv(
  ports: PipelinePorts,
  common: { redisUrl: string; mqttUrl: string; deviceId: string; modelPath: string; outboxPath: string },
): Record<ServiceName, Record<string, string>> {
  const shared = { VIGIL_REDIS_URL: common.redisUrl, VIGIL_MQTT_URL: common.mqttUrl, VIGIL_DEVICE_ID: common.deviceId };
  return {
    'sensor-reader': {
      ...shared,
      VIGIL_SENSOR_READER_METRICS_PORT: String(ports.metrics['sensor-reader']),
      VIGIL_SENSOR_READER_OUTPUT: endpoint(ports.input.preprocessor),
    },
    preprocessor: {
      ...shared,
      VIGIL_PREPROCESSOR_METRICS_PORT: String(ports.metrics.preprocessor),
      VIGIL_PREPROCESSOR_INPUT: endpoint(ports.input.preprocessor),
      VIGIL_PREPROCESSOR_OUTPUT: endpoint(ports.input.inference),
    },
    inference: {
      ...shared,
      VIGIL_INFERENCE_METRICS_PORT: String(ports.metrics.inference),
      VIGIL_INFERENCE_INPUT: endpoint(ports.input.inference),
      VIGIL_INFERENCE_OUTPUT: endpoint(ports.input['adaptive-threshold']),
      VIGIL_INFERENCE_MODEL_PATH: common.modelPath,
    },
    'adaptive-threshold': {
      ...shared,
      VIGIL_ADAPTIVE_THRESHOLD_METRICS_PORT: String(ports.metrics['adaptive-threshold']),
      VIGIL_ADAPTIVE_THRESHOLD_INPUT: endpoint(ports.input['adaptive-threshold']),
      VIGIL_ADAPTIVE_THRESHOLD_OUTPUT: endpoint(ports.input['alert-publisher']),
    },
    'alert-publisher': {
      ...shared,
      VIGIL_ALERT_PUBLISHER_METRICS_PORT: String(ports.metrics['alert-publisher']),
      VIGIL_ALERT_PUBLISHER_INPUT: endpoint(ports.input['alert-publisher']),
      VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: common.outboxPath,
    },
  };
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
