/**
 * The isolation forest as a model the service runs: learn mode grows one (in the child process,
 * like the autoencoders), writes it as a bundle, and the service scores with it.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeMessage, SCHEMA_VERSION, type ScoreMessage } from '@vigil/shared/runtime';
import { loadBundle } from '@vigil/shared/model';
import { startInferenceUnderTest, type InferenceUnderTest } from '../../../test/harness/inference-under-test.js';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { simulatedNormalReadings, TEST_FEATURE_SETTINGS } from '../../../test/harness/model-fixture.js';
import { waitFor } from '../../../test/harness/ports.js';
import { featuresOfReadings } from '../../../training/src/bundle-builder.js';

describe('isolation forest in service (learn mode, real ZeroMQ, grown in a child process)', { timeout: 180_000 }, () => {
  let inference: InferenceUnderTest;
  let modelPath: string;
  let seq = 0;

  before(async () => {
    modelPath = join(await mkdtemp(join(tmpdir(), 'vigil-forest-')), 'current');
    inference = await startInferenceUnderTest({
      modelPath,
      modelWatchMs: 200,
      features: TEST_FEATURE_SETTINGS.features,
      windowSize: TEST_FEATURE_SETTINGS.windowSize,
      learn: { samples: 1500, model: 'isolation-forest' },
    });
  });

  after(() => inference.stop());

  const send = async (vectors: number[][]): Promise<ScoreMessage[]> => {
    const first = seq + 1;
    for (const vector of vectors) {
      seq += 1;
      await inference.upstream.send(encodeMessage({ v: SCHEMA_VERSION, kind: 'features', asset: 'p', seq, ts: Date.now(), ingestTs: Date.now(), features: vector, warmup: false, imputed: [] }));
    }
    await waitFor(`score ${seq}`, () => inference.scores.some((score) => score.seq === seq) || undefined, 10_000);
    return inference.scores.filter((score) => score.seq >= first);
  };

  it('learns a forest from normal running, then scores readings far from it above every normal one', async () => {
    const normal = featuresOfReadings(simulatedNormalReadings(5000, 31), TEST_FEATURE_SETTINGS).features;
    await send(normal.slice(0, 1500));
    await waitFor('the grown forest', async () => metricSum(await scrape(inference.opsPort), 'vigil_model_loads_total', { outcome: 'ok' }) === 1 || undefined, 120_000, 250);

    const bundle = await loadBundle(modelPath);
    assert.equal(bundle.manifest.kind, 'isolation-forest');
    assert.equal(bundle.manifest.name, 'learned-iforest');
    assert.ok(bundle.forest && bundle.network === undefined);
    assert.equal(metricSum(await scrape(inference.opsPort), 'vigil_model_info', { name: 'learned-iforest', kind: 'isolation-forest' }), 1);

    // The same normal running moved 6 standard deviations in every feature: beyond every split the
    // trees learned, so it takes the shortest paths. (A point beyond the range in only a few of the
    // 24 features lands with the training extremes of those features and scores like them: the
    // forest's bluntness, and why it misses most SKAB faults.)
    const held = normal.slice(2000, 2400);
    const normalScores = await send(held);
    const shiftedScores = await send(held.map((vector) => vector.map((value) => value + 6)));
    assert.ok(normalScores.every((score) => !score.warmup && score.model.name === 'learned-iforest' && score.score > 0 && score.score <= 1));
    const sorted = normalScores.map((score) => score.score).sort((a, b) => a - b);
    const p99 = sorted[Math.floor(0.99 * sorted.length)] as number;
    assert.ok((sorted[sorted.length >> 1] as number) < 0.55, `normal median ${sorted[sorted.length >> 1]}`);
    const lowestShifted = Math.min(...shiftedScores.map((score) => score.score));
    assert.ok(lowestShifted > p99, `shifted scores from ${lowestShifted}, normal p99 ${p99}`);
    for (const score of [...normalScores, ...shiftedScores]) {
      assert.deepEqual(Object.keys(score.contributions), [...TEST_FEATURE_SETTINGS.channels]);
      assert.ok(Math.abs(Object.values(score.contributions).reduce((a, b) => a + b, 0) - 1) < 1e-9);
    }
  });
});
