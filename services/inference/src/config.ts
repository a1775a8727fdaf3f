import { commonSchema, envPrefix, loadConfig } from '@vigil/shared';

export const SERVICE = 'inference';
const ENV = envPrefix(SERVICE);

export const schema = {
  ...commonSchema(SERVICE, 9103),
  input: {
    endpoint: { doc: 'ZeroMQ endpoint this stage binds for feature vectors.', format: 'zmq-endpoint', default: 'tcp://0.0.0.0:5557', env: `${ENV}_INPUT` },
    highWaterMark: { doc: 'Feature messages buffered at the input.', format: 'positive-int', default: 10_000, env: `${ENV}_INPUT_HWM` },
  },
  output: {
    endpoint: { doc: 'ZeroMQ endpoint of the adaptive-threshold input.', format: 'zmq-endpoint', default: 'tcp://127.0.0.1:5558', env: `${ENV}_OUTPUT` },
    highWaterMark: { doc: 'Scores queued for the adaptive-threshold before this stage waits.', format: 'positive-int', default: 10_000, env: `${ENV}_OUTPUT_HWM` },
  },
  modelPath: {
    doc: 'Folder of the model bundle (bundle.json, model.json, weights.bin), loaded once at start.',
    format: 'non-empty-string',
    default: 'models/current',
    env: `${ENV}_MODEL_PATH`,
  },
};

export type InferenceConfig = ReturnType<typeof loadInferenceConfig>;

export function loadInferenceConfig(overrides: Record<string, unknown> = {}) {
  return loadConfig(schema, overrides);
}
