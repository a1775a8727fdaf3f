import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averagePathLength, IsolationForest, ModelFormatError } from '../src/index.js';

/** A deterministic, roughly Gaussian 2-D cluster around the origin (sums of uniforms). */
function cluster(count: number): number[][] {
  let state = 12345;
  const uniform = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const normal = () => uniform() + uniform() + uniform() + uniform() - 2;
  return Array.from({ length: count }, () => [normal(), normal()]);
}

describe('IsolationForest (scikit-learn semantics)', () => {
  it('c(n) is the average unsuccessful-search path length of a BST', () => {
    assert.equal(averagePathLength(1), 0);
    assert.equal(averagePathLength(2), 1);
    // c(256) = 2(ln 255 + γ) - 2*255/256 ≈ 10.2448
    assert.ok(Math.abs(averagePathLength(256) - 10.2448) < 1e-3);
  });

  it('scores an isolated point near 1 and points inside a dense cluster at 0.5 or below', () => {
    const rows = cluster(1000);
    const forest = IsolationForest.fit(rows, { trees: 100, maxSamples: 256, seed: 7 });
    assert.ok(forest.score([8, -8]) > 0.7, `outlier scored ${forest.score([8, -8])}`);
    assert.ok(forest.score([3, 0]) > forest.score([1, 0]), 'further out scores higher');
    assert.ok(forest.score([0, 0]) <= 0.5, `centre scored ${forest.score([0, 0])}`);
    const inliers = rows.slice(0, 200).map((row) => forest.score(row));
    const mean = inliers.reduce((sum, value) => sum + value, 0) / inliers.length;
    assert.ok(mean < 0.5, `mean inlier score ${mean}`);
  });

  it('builds each tree on a subsample of at most 256 rows, as scikit-learn does', () => {
    const forest = IsolationForest.fit(cluster(5000), { trees: 10, maxSamples: 256, seed: 1 });
    assert.equal(forest.subsampleSize, 256);
    // A tree on 256 rows has at most 2 * 256 - 1 nodes, whatever the 5,000 rows it came from.
    assert.ok(forest.nodeCount <= 10 * (2 * 256 - 1));
    assert.equal(IsolationForest.fit(cluster(100), { trees: 5, maxSamples: 256, seed: 1 }).subsampleSize, 100);
  });

  it('is deterministic under a seed, and differs across seeds', () => {
    const rows = cluster(500);
    const a = IsolationForest.fit(rows, { trees: 50, maxSamples: 128, seed: 3 });
    const b = IsolationForest.fit(rows, { trees: 50, maxSamples: 128, seed: 3 });
    const c = IsolationForest.fit(rows, { trees: 50, maxSamples: 128, seed: 4 });
    assert.equal(a.score([1, 1]), b.score([1, 1]));
    assert.notEqual(a.score([1, 1]), c.score([1, 1]));
  });

  it('survives forest.json unchanged: the same score for every point', () => {
    const forest = IsolationForest.fit(cluster(500), { trees: 30, maxSamples: 128, seed: 5 });
    const copy = IsolationForest.fromJSON(JSON.parse(JSON.stringify(forest.toJSON())));
    for (const point of [[0, 0], [1, -1], [4, 4], [-6, 0.5]]) assert.equal(copy.score(point), forest.score(point));
    assert.equal(copy.nodeCount, forest.nodeCount);
  });

  it('refuses a damaged forest.json with a reason instead of walking off a tree', () => {
    const json = IsolationForest.fit(cluster(200), { trees: 3, maxSamples: 64, seed: 5 }).toJSON();
    const damaged = (change: (copy: ReturnType<IsolationForest['toJSON']>) => void) => {
      const copy = JSON.parse(JSON.stringify(json)) as ReturnType<IsolationForest['toJSON']>;
      change(copy);
      return () => IsolationForest.fromJSON(copy);
    };
    assert.throws(damaged((copy) => ((copy as { format: string }).format = 'other')), ModelFormatError);
    assert.throws(damaged((copy) => (copy.trees[1]!.left[0] = 0)), /tree 1 node 0 points outside/);
    assert.throws(damaged((copy) => (copy.trees[0]!.left[0] = 10_000)), /points outside/);
    assert.throws(damaged((copy) => (copy.trees[0]!.feature[0] = 2)), /points outside the tree or the features/);
    assert.throws(damaged((copy) => copy.trees[2]!.threshold.pop()), /uneven/);
    assert.throws(damaged((copy) => (copy.trees = [])), /no trees/);
  });

  it('explains a score: the feature that sets a point apart takes the largest share of the splits that isolate it', () => {
    const rows = cluster(1000).map(([a, b]) => [a as number, b as number, (a as number) * 0.5]);
    const forest = IsolationForest.fit(rows, { trees: 100, maxSamples: 256, seed: 9 });
    const shares = new Float64Array(3);
    const score = forest.explain([0, 9, 0], shares);
    assert.equal(score, forest.score([0, 9, 0]));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.ok((shares[1] as number) > 1.3 * Math.max(shares[0] as number, shares[2] as number), `shares ${Array.from(shares)}`);
    forest.explain([9, 0, 0], shares);
    assert.ok((shares[0] as number) > Math.max(shares[1] as number, shares[2] as number), `shares ${Array.from(shares)}`);
  });
});
