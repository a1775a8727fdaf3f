import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

const liveHeapModule = new URL('../src/live-heap.ts', import.meta.url).href;

/**
 * Runs in a child with --expose-gc, so the test decides when full collections happen: the gauge
 * must follow what survives them, not what was allocated.
 */
const probe = `
import { Registry } from 'prom-client';
import { registerLiveHeapGauge } from '${liveHeapModule}';
const registry = new Registry();
registerLiveHeapGauge(registry);
const read = async () => (await registry.getSingleMetric('vigil_heap_live_bytes').get()).values[0]?.value ?? 0;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const before = await read();
globalThis.gc(); await settle();
const baseline = await read();
let kept = Array.from({ length: 200_000 }, (_, i) => ({ i, text: 'x' + i }));
globalThis.gc(); await settle();
const holding = await read();
// Garbage allocated after the collection must not show until the next one.
for (let i = 0; i < 200_000; i += 1) void { i, text: 'y' + i };
const afterGarbage = await read();
kept.length = 0; kept = undefined;
globalThis.gc(); await settle();
const released = await read();
console.log(JSON.stringify({ before, baseline, holding, afterGarbage, released }));
`;

describe('live heap gauge', () => {
  it('reports the heap that survives a full GC: up with what is kept, down when it is released', () => {
    const output = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8' });
    const mb = (bytes: number) => bytes / 1048576;
    const { before, baseline, holding, afterGarbage, released } = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
    assert.equal(before, 0, 'nothing before the first full GC');
    assert.ok(mb(baseline) > 1, `baseline ${mb(baseline)} MB`);
    assert.ok(mb(holding) - mb(baseline) > 8, `200,000 kept objects show: ${mb(baseline)} -> ${mb(holding)} MB`);
    assert.ok(Math.abs(mb(afterGarbage) - mb(holding)) < 2, `garbage made after the last full GC does not count: ${mb(afterGarbage)} MB`);
    assert.ok(mb(holding) - mb(released) > 8, `released when dropped: ${mb(holding)} -> ${mb(released)} MB`);
  });
});
