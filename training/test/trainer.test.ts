import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '@vigil/shared/runtime';
import { DEFAULT_TRAIN_OPTIONS, trainDenseAutoencoder } from '../src/trainer.js';

describe('training', () => {
  const random = new SeededRandom(9);
  const samples = Array.from({ length: 300 }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i / 20 + j) + 0.1 * random.gaussian()));
  const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 4, batchSize: 32 };

  it('repeats exactly under the same seed, and differs under another', async () => {
    const first = await trainDenseAutoencoder(samples, options);
    const again = await trainDenseAutoencoder(samples, options);
    const otherSeed = await trainDenseAutoencoder(samples, { ...options, seed: options.seed + 1 });
    assert.ok(Buffer.from(first.weights).equals(Buffer.from(again.weights)), 'same seed, same weights');
    assert.equal(first.finalLoss, again.finalLoss);
    assert.ok(!Buffer.from(first.weights).equals(Buffer.from(otherSeed.weights)), 'another seed, other weights');
  });

  it('learns: the loss falls over the epochs', async () => {
    const losses: number[] = [];
    await trainDenseAutoencoder(samples, { ...options, epochs: 10, onEpoch: (_, loss) => losses.push(loss) });
    assert.equal(losses.length, 10);
    assert.ok((losses.at(-1) as number) < (losses[0] as number) * 0.8, `losses ${losses.map((loss) => loss.toFixed(3)).join(', ')}`);
  });
});
