import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WallClock, preciseNowMs } from '../src/wall-clock.js';

/** A simulated machine: a true wall time, a monotonic clock and a system clock that truncates. */
function machine(trueStartMs: number, monotonicStartMs: number) {
  let elapsed = 0;
  let stepMs = 0;
  return {
    advance(ms: number) {
      elapsed += ms;
    },
    step(ms: number) {
      stepMs += ms;
    },
    trueNow: () => trueStartMs + stepMs + elapsed,
    monotonic: () => monotonicStartMs + elapsed,
    system: () => Math.floor(trueStartMs + stepMs + elapsed),
  };
}

test('converges on the true wall time to well under a millisecond, from a truncated system clock', () => {
  const box = machine(1_700_000_000_123.9, 5_000.25);
  const clock = new WallClock(box.monotonic, box.system);
  // Readings at uneven intervals, as a stage's messages arrive.
  for (let i = 0; i < 500; i += 1) {
    box.advance(0.137 + (i % 7) * 0.311);
    clock.now();
  }
  box.advance(3.3);
  assert.ok(Math.abs(clock.now() - box.trueNow()) < 0.02, `error ${clock.now() - box.trueNow()} ms`);
});

test('is never outside the system clock tick, and follows an NTP step at once', () => {
  const box = machine(1_000.6, 0);
  const clock = new WallClock(box.monotonic, box.system);
  for (let i = 0; i < 50; i += 1) {
    box.advance(0.4);
    const now = clock.now();
    assert.ok(now >= box.system() && now < box.system() + 1);
  }
  // The Pi boots in 1970-ish time, then NTP sets the clock forward by years and back by a second.
  box.step(1_700_000_000_000);
  box.advance(0.4);
  assert.ok(Math.abs(clock.now() - box.trueNow()) < 1);
  box.step(-1_000.25);
  box.advance(0.4);
  assert.ok(Math.abs(clock.now() - box.trueNow()) < 1);
});

test('the process clock agrees with Date.now and has sub-millisecond resolution', () => {
  const samples = Array.from({ length: 2000 }, () => preciseNowMs());
  const now = Date.now();
  assert.ok(Math.abs(samples.at(-1)! - now) < 1.5);
  assert.ok(samples.some((value) => !Number.isInteger(value)));
  for (let i = 1; i < samples.length; i += 1) assert.ok(samples[i]! >= samples[i - 1]! - 1, 'never jumps back by a tick');
});
