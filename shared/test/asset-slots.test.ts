import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssetSlots } from '../src/index.js';

describe('AssetSlots: per-asset state bounded and reclaimed', () => {
  it('refuses a new asset while every slot is busy, and gives the longest-silent idle slot to it later', () => {
    let now = 0;
    const evicted: string[] = [];
    const slots = new AssetSlots<number>({ capacity: 2, idleMs: 1_000, now: () => now, onEvict: (asset) => evicted.push(asset) });
    for (const asset of ['a', 'b']) {
      assert.equal(slots.makeRoom(asset), true);
      slots.set(asset, 1);
    }
    now = 500;
    assert.equal(slots.makeRoom('c'), false, 'nobody idle yet');
    assert.equal(slots.refused, 1);
    assert.equal(slots.refusedWithin(60_000), true);
    slots.get('b');
    now = 1_200;
    assert.equal(slots.makeRoom('c'), true, "a's slot: silent 1.2 s");
    assert.deepEqual(evicted, ['a']);
    slots.set('c', 1);
    assert.equal(slots.has('b'), true);
    assert.equal(slots.size, 2);
    now = 70_000;
    assert.equal(slots.refusedWithin(60_000), false);
  });

  it('always lets a pinned (configured) asset in, and never evicts it', () => {
    let now = 0;
    const slots = new AssetSlots<number>({ capacity: 2, idleMs: 1_000_000, pinned: ['pump-1'], now: () => now });
    for (const asset of ['junk-1', 'junk-2']) {
      slots.makeRoom(asset);
      slots.set(asset, 0);
    }
    now = 10;
    assert.equal(slots.makeRoom('pump-1'), true, 'takes the longest-silent junk slot though it is not idle');
    slots.set('pump-1', 1);
    now = 10_000_000;
    for (let i = 0; i < 5; i++) {
      if (slots.makeRoom(`junk-${i + 10}`)) slots.set(`junk-${i + 10}`, 0);
    }
    assert.equal(slots.has('pump-1'), true);
  });
});
