/**
 * The topology table (shared/src/topology.ts) is the one place the pipeline's ports live: the
 * services' defaults derive from it, and the files that cannot import it (the compose file, the
 * Prometheus scrape list) are held to it here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultInputEndpoint, defaultOutputEndpoint, envPrefix, STAGES, TOPOLOGY } from '@vigil/shared/runtime';
import { loadThresholdConfig } from '../services/adaptive-threshold/src/config.js';
import { loadPublisherConfig } from '../services/alert-publisher/src/config.js';
import { loadInferenceConfig } from '../services/inference/src/config.js';
import { loadPreprocessorConfig } from '../services/preprocessor/src/config.js';
import { loadSensorReaderConfig } from '../services/sensor-reader/src/config.js';
import { ROOT } from './harness/processes.js';

const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const prometheus = readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8');

/** One service's block of the compose file. */
function composeService(name: string): string {
  const start = compose.indexOf(`\n  ${name}:\n`);
  assert.ok(start >= 0, `${name} in docker-compose.yml`);
  const rest = compose.slice(start + 1);
  const end = rest.slice(1).search(/\n {2}[a-z-]+:\n|\nvolumes:/);
  return end < 0 ? rest : rest.slice(0, end + 1);
}

describe('one topology table, and the settings that derive from it checked at load', () => {
  it("is what every service's settings default to", () => {
    const defaults = {
      'sensor-reader': loadSensorReaderConfig({}),
      preprocessor: loadPreprocessorConfig({}),
      inference: loadInferenceConfig({}),
      'adaptive-threshold': loadThresholdConfig({}),
      'alert-publisher': loadPublisherConfig({}),
    };
    for (const stage of STAGES) {
      const config = defaults[stage] as { metricsPort: number; input?: { endpoint: string }; output?: { endpoint: string } };
      assert.equal(config.metricsPort, TOPOLOGY[stage].opsPort, stage);
      if (TOPOLOGY[stage].inputPort !== undefined) assert.equal(config.input?.endpoint, defaultInputEndpoint(stage), stage);
      if (TOPOLOGY[stage].next !== undefined) assert.equal(config.output?.endpoint, defaultOutputEndpoint(stage), stage);
    }
  });

  it('is what docker-compose.yml builds and wires', () => {
    for (const stage of STAGES) {
      const block = composeService(stage);
      const { opsPort, inputPort, next } = TOPOLOGY[stage];
      assert.match(block, new RegExp(`SERVICE: ${stage}, OPS_PORT: "${opsPort}"`), `${stage} ops port`);
      if (inputPort !== undefined) assert.match(block, new RegExp(`${envPrefix(stage)}_INPUT: tcp://0\\.0\\.0\\.0:${inputPort}\\n`), `${stage} input`);
      if (next !== undefined) assert.match(block, new RegExp(`${envPrefix(stage)}_OUTPUT: tcp://${next}:${TOPOLOGY[next].inputPort}\\n`), `${stage} output`);
    }
  });

  it('is what Prometheus scrapes', () => {
    const targets = [...prometheus.matchAll(/^ +- ([a-z-]+):(\d+)$/gm)].map(([, host, port]) => `${host}:${port}`).filter((target) => !target.startsWith('localhost'));
    assert.deepEqual(targets, STAGES.map((stage) => `${stage}:${TOPOLOGY[stage].opsPort}`));
  });

  it('refuses a mistyped window feature at start in both stages that read the feature settings', () => {
    for (const load of [loadPreprocessorConfig, loadInferenceConfig]) {
      assert.throws(() => load({ features: ['mean', 'sdt'] }), /features: must be a comma-separated list of last, mean, std/);
    }
  });
});
