/**
 * The assets file: what each asset's feature settings come out as, and one line naming the asset,
 * the key and the fix for each mistake a user makes first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assetFeatureSpec, assetLimits, assetSpecsOf, parseAssetSpecs } from '../src/runtime.js';
import { DEFAULT_FEATURE_SPEC } from '../src/features/index.js';

describe('the assets file', () => {
  it("gives each asset its own channels over the service's settings, and its own limits over the service's", () => {
    const specs = parseAssetSpecs(
      JSON.stringify({ 'pump-1': { channels: ['pressure', 'flow'] }, 'fan-2': { channels: ['current'], features: ['mean'], windowSize: 20, limits: ['current:0:40'] } }),
      'VIGIL_ASSETS',
    );
    assert.deepEqual([...specs.keys()], ['pump-1', 'fan-2']);
    const pump = assetFeatureSpec(DEFAULT_FEATURE_SPEC, specs.get('pump-1')!);
    assert.deepEqual(pump, { ...DEFAULT_FEATURE_SPEC, channels: ['pressure', 'flow'] });
    const fan = assetFeatureSpec(DEFAULT_FEATURE_SPEC, specs.get('fan-2')!);
    assert.deepEqual(fan, { channels: ['current'], features: ['mean'], windowSize: 20, scalerWarmup: DEFAULT_FEATURE_SPEC.scalerWarmup });
    const base = { pressure: { min: 0, max: 10 }, current: { min: 0, max: 100 }, other: { min: 1, max: 2 } };
    assert.deepEqual(assetLimits(base, specs.get('pump-1')!), { pressure: { min: 0, max: 10 } });
    assert.deepEqual(assetLimits(base, specs.get('fan-2')!), { current: { min: 0, max: 40 } });
  });

  it('reads a file, and nothing when neither setting is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-assets-'));
    const path = join(dir, 'assets.json');
    writeFileSync(path, JSON.stringify({ a: { channels: ['x'] } }));
    assert.deepEqual([...assetSpecsOf({ assetsFile: path, assetsJson: '' }).keys()], ['a']);
    assert.equal(assetSpecsOf({ assetsFile: '', assetsJson: ' ' }).size, 0);
    const yamlPath = join(dir, 'assets.yaml');
    writeFileSync(yamlPath, 'pump-1:\n  channels: [pressure, flow]\nfan-2:\n  channels:\n    - current\n  windowSize: 20\n');
    assert.deepEqual(Object.fromEntries(assetSpecsOf({ assetsFile: yamlPath, assetsJson: '' })), { 'pump-1': { channels: ['pressure', 'flow'] }, 'fan-2': { channels: ['current'], windowSize: 20 } });
    writeFileSync(yamlPath, 'pump-1:\n  chanels: [pressure]\n');
    assert.throws(() => assetSpecsOf({ assetsFile: yamlPath, assetsJson: '' }), /asset "pump-1": unknown key "chanels"/);
    assert.throws(() => assetSpecsOf({ assetsFile: join(dir, 'missing.json'), assetsJson: '' }), /^Error: VIGIL_ASSETS_FILE: cannot read .*missing\.json \(no such file\)/);
  });

  const refusals: Array<[string, RegExp]> = [
    ['{"a": ', /^Error: VIGIL_ASSETS: not JSON/],
    ['["a"]', /must be a JSON object of asset id/],
    ['{}', /names no asset; leave the setting empty/],
    ['{"a/b": {"channels": ["x"]}}', /asset "a\/b": an asset id is 1-64 characters/],
    ['{"a": ["x"]}', /asset "a": must be an object with "channels"/],
    ['{"a": {"channel": ["x"]}}', /asset "a": unknown key "channel" \(known: channels, features/],
    ['{"a": {"channels": []}}', /asset "a": "channels" must be a non-empty list of distinct channel names/],
    ['{"a": {"channels": ["x", "x"]}}', /"channels" must be a non-empty list of distinct/],
    ['{"a": {"channels": ["x"], "features": ["median"]}}', /"features" must be a non-empty list of last, mean/],
    ['{"a": {"channels": ["x"], "windowSize": 0}}', /"windowSize" must be a whole number ≥ 1/],
    ['{"a": {"channels": ["x"], "scalerWarmup": 2.5}}', /"scalerWarmup" must be a whole number ≥ 1/],
    ['{"a": {"channels": ["x"], "limits": ["x:5:1"]}}', /asset "a": limit "x:5:1" is not channel:min:max with min < max/],
    ['{"a": {"channels": ["x"], "limits": ["y:0:1"]}}', /asset "a": a limit for "y", which is not one of its channels/],
  ];
  for (const [text, expected] of refusals) {
    it(`refuses ${text} with one line`, () => {
      assert.throws(
        () => parseAssetSpecs(text, 'VIGIL_ASSETS'),
        (error: unknown) => error instanceof Error && expected.test(String(error)) && !error.message.includes('\n'),
      );
    });
  }
});
