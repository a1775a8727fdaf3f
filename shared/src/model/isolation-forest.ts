/**
 * Isolation forest with scikit-learn's semantics (Liu, Ting and Zhou, 2008): each tree is grown
 * on its own subsample of `maxSamples` rows (256 by default, drawn without replacement), splits on
 * a random feature at a random value between that feature's minimum and maximum in the node, and
 * stops at depth ceil(log2(maxSamples)). The score of x is 2^(-E[h(x)] / c(maxSamples)), where
 * h(x) is the depth at which x is isolated plus c(size) of the leaf it lands in: near 1 for a
 * point that is quickly isolated, around 0.5 or below for points inside the bulk of the data.
 * Trees are flat typed arrays, so a forest of 100 is a few hundred KB and scores without
 * allocating.
 */
const EULER_GAMMA = 0.5772156649015329;

import { SeededRandom } from '../random.js';
import { ModelFormatError } from './tfjs-layers-format.js';

export const FOREST_FORMAT = 'vigil-isolation-forest';

/** Average path length of an unsuccessful search in a binary search tree of n points: c(n). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

export interface IsolationForestOptions {
  trees: number;
  maxSamples: number;
  seed: number;
}

export const DEFAULT_ISOLATION_FOREST_OPTIONS: IsolationForestOptions = { trees: 100, maxSamples: 256, seed: 42 };

interface FlatTree {
  /** Split feature per node; -1 for a leaf. */
  feature: Int16Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Rows that reached a leaf (for the c(size) correction); 0 for inner nodes. */
  size: Int32Array;
}

/** The forest as a bundle ships it (forest.json): the flat node arrays of each tree. */
export interface IsolationForestJson {
  format: typeof FOREST_FORMAT;
  subsampleSize: number;
  inputSize: number;
  trees: Array<{ feature: number[]; threshold: number[]; left: number[]; right: number[]; size: number[] }>;
}

export class IsolationForest {
  /** The split features of the path being walked by explain(): no tree is deeper than its node count. */
  private readonly pathFeatures: Int32Array;

  private constructor(
    private readonly trees: FlatTree[],
    readonly subsampleSize: number,
    readonly inputSize: number,
  ) {
    this.pathFeatures = new Int32Array(Math.max(1, ...trees.map((tree) => tree.feature.length)));
  }

  static fit(rows: ReadonlyArray<ArrayLike<number>>, options: IsolationForestOptions = DEFAULT_ISOLATION_FOREST_OPTIONS): IsolationForest {
    if (rows.length < 2) throw new Error('an isolation forest needs at least two rows');
    const inputSize = rows[0]?.length ?? 0;
    const generator = new SeededRandom(options.seed);
    const random = () => generator.next();
    const subsampleSize = Math.min(options.maxSamples, rows.length);
    const depthLimit = Math.ceil(Math.log2(Math.max(subsampleSize, 2)));
    const trees: FlatTree[] = [];
    for (let t = 0; t < options.trees; t += 1) {
      const sample = sampleWithoutReplacement(rows.length, subsampleSize, random).map((index) => rows[index] as ArrayLike<number>);
      trees.push(growTree(sample, inputSize, depthLimit, random));
    }
    return new IsolationForest(trees, subsampleSize, inputSize);
  }

  /** Anomaly score in (0, 1]: ~1 isolated quickly, <=0.5 inside the bulk of the data. */
  score(x: ArrayLike<number>): number {
    let total = 0;
    for (const tree of this.trees) total += pathLength(tree, x);
    return this.scoreOfTotalPath(total);
  }

  /**
   * Scores x and says which features isolated it: each split on the path of each tree credits its
   * feature with 1 / (the path's length), so the features that cut x off early and in many trees
   * get the largest share. `shares` (one slot a feature) is filled and normalised to sum to 1.
   */
  explain(x: ArrayLike<number>, shares: Float64Array): number {
    shares.fill(0);
    let total = 0;
    const path = this.pathFeatures;
    for (const tree of this.trees) {
      // One walk: remember the split features, credit them once the path's length is known.
      let node = 0;
      let depth = 0;
      while ((tree.feature[node] as number) >= 0) {
        const feature = tree.feature[node] as number;
        path[depth] = feature;
        depth += 1;
        node = (x[feature] as number) < (tree.threshold[node] as number) ? (tree.left[node] as number) : (tree.right[node] as number);
      }
      const length = depth + averagePathLength(tree.size[node] as number);
      total += length;
      const credit = 1 / Math.max(length, 1);
      for (let i = 0; i < depth; i += 1) shares[path[i] as number] = (shares[path[i] as number] as number) + credit;
    }
    const sum = shares.reduce((a, b) => a + b, 0);
    if (sum > 0) for (let i = 0; i < shares.length; i += 1) shares[i] = (shares[i] as number) / sum;
    return this.scoreOfTotalPath(total);
  }

  /** 2^(-E[h(x)] / c(subsample)), from the path lengths summed over the trees. */
  private scoreOfTotalPath(total: number): number {
    return 2 ** (-(total / this.trees.length) / averagePathLength(this.subsampleSize));
  }

  toJSON(): IsolationForestJson {
    return {
      format: FOREST_FORMAT,
      subsampleSize: this.subsampleSize,
      inputSize: this.inputSize,
      trees: this.trees.map((tree) => ({
        feature: Array.from(tree.feature),
        threshold: Array.from(tree.threshold),
        left: Array.from(tree.left),
        right: Array.from(tree.right),
        size: Array.from(tree.size),
      })),
    };
  }

  /** Reads forest.json, checking every node so a damaged file is refused, never walked off. */
  static fromJSON(value: unknown): IsolationForest {
    const json = value as IsolationForestJson;
    if (json?.format !== FOREST_FORMAT) throw new ModelFormatError(`forest: format is not ${FOREST_FORMAT}`);
    if (!Number.isInteger(json.inputSize) || json.inputSize <= 0) throw new ModelFormatError('forest: inputSize must be a positive integer');
    if (!Number.isInteger(json.subsampleSize) || json.subsampleSize < 2) throw new ModelFormatError('forest: subsampleSize must be at least 2');
    if (!Array.isArray(json.trees) || json.trees.length === 0) throw new ModelFormatError('forest: no trees');
    const trees = json.trees.map((tree, t) => {
      const n = tree?.feature?.length;
      const arrays = [tree?.feature, tree?.threshold, tree?.left, tree?.right, tree?.size];
      if (!n || !arrays.every((array) => Array.isArray(array) && array.length === n && array.every((v) => Number.isFinite(v)))) {
        throw new ModelFormatError(`forest: tree ${t} has missing, uneven or non-numeric node arrays`);
      }
      for (let node = 0; node < n; node += 1) {
        const feature = tree.feature[node] as number;
        if (feature === -1) continue;
        const children = [tree.left[node] as number, tree.right[node] as number];
        // Children come after their parent (the trees are written depth-first), so no path loops.
        if (!Number.isInteger(feature) || feature < 0 || feature >= json.inputSize || children.some((child) => !Number.isInteger(child) || child <= node || child >= n)) {
          throw new ModelFormatError(`forest: tree ${t} node ${node} points outside the tree or the features`);
        }
      }
      return {
        feature: Int16Array.from(tree.feature),
        threshold: Float64Array.from(tree.threshold),
        left: Int32Array.from(tree.left),
        right: Int32Array.from(tree.right),
        size: Int32Array.from(tree.size),
      };
    });
    return new IsolationForest(trees, json.subsampleSize, json.inputSize);
  }

  get nodeCount(): number {
    return this.trees.reduce((sum, tree) => sum + tree.feature.length, 0);
  }

  /** Bytes of the flat node arrays: what the forest holds and what a bundle of it would ship. */
  get sizeBytes(): number {
    return this.trees.reduce(
      (sum, tree) => sum + tree.feature.byteLength + tree.threshold.byteLength + tree.left.byteLength + tree.right.byteLength + tree.size.byteLength,
      0,
    );
  }
}

function pathLength(tree: FlatTree, x: ArrayLike<number>): number {
  let node = 0;
  let depth = 0;
  while ((tree.feature[node] as number) >= 0) {
    node = (x[tree.feature[node] as number] as number) < (tree.threshold[node] as number) ? (tree.left[node] as number) : (tree.right[node] as number);
    depth += 1;
  }
  return depth + averagePathLength(tree.size[node] as number);
}

function growTree(sample: Array<ArrayLike<number>>, inputSize: number, depthLimit: number, random: () => number): FlatTree {
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const size: number[] = [];
  const build = (rows: Array<ArrayLike<number>>, depth: number): number => {
    const node = feature.length;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    size.push(rows.length);
    if (depth >= depthLimit || rows.length <= 1) return node;
    // Pick a random feature that still varies in this node; none left means the rows are equal.
    const order = sampleWithoutReplacement(inputSize, inputSize, random);
    for (const candidate of order) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const row of rows) {
        const value = row[candidate] as number;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      if (max <= min) continue;
      const split = min + random() * (max - min);
      const lower = rows.filter((row) => (row[candidate] as number) < split);
      const upper = rows.filter((row) => (row[candidate] as number) >= split);
      feature[node] = candidate;
      threshold[node] = split;
      size[node] = 0;
      left[node] = build(lower, depth + 1);
      right[node] = build(upper, depth + 1);
      return node;
    }
    return node;
  };
  build(sample, 0);
  return {
    feature: Int16Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    size: Int32Array.from(size),
  };
}

/** k distinct indices of 0..n-1 (partial Fisher-Yates). */
function sampleWithoutReplacement(n: number, k: number, random: () => number): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i += 1) {
    const j = i + Math.floor(random() * (n - i));
    [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
  }
  return indices.slice(0, k);
}
