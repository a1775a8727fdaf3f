import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeMessage,
  encodeMessage,
  isoTime,
  MAX_FRAME_BYTES,
  MessageError,
  numberToReadingValue,
  readingValueToNumber,
  SCHEMA_VERSION,
  type ReadingMessage,
} from '../src/index.js';

const reading: ReadingMessage = {
  v: SCHEMA_VERSION,
  kind: 'reading',
  asset: 'pump-1',
  seq: 7,
  ts: 1_700_000_000_000,
  ingestTs: 1_700_000_000_001,
  channels: { pressure: 1.2, flow: null, current: 'NaN' },
};

function rejection(frame: Buffer | string, kind: 'reading' | 'features' | 'score' | 'decision' = 'reading'): string {
  try {
    decodeMessage(Buffer.isBuffer(frame) ? frame : Buffer.from(frame), kind);
  } catch (error) {
    assert.ok(error instanceof MessageError);
    return error.reason;
  }
  return 'accepted';
}

describe('message schema', () => {
  it('round-trips a reading, keeping NaN as a marker JSON would lose', () => {
    const decoded = decodeMessage(encodeMessage(reading), 'reading');
    assert.deepEqual(decoded, reading);
    assert.ok(Number.isNaN(readingValueToNumber(decoded.channels.current ?? null)));
    assert.equal(numberToReadingValue(Number.POSITIVE_INFINITY), 'Infinity');
    assert.equal(numberToReadingValue(Number.NEGATIVE_INFINITY), '-Infinity');
    assert.equal(numberToReadingValue(-0), -0);
  });

  it('rejects a time no Date holds (a gateway\'s nanoseconds), so no stage can throw formatting it', () => {
    assert.equal(rejection(JSON.stringify({ ...reading, ts: 1.7e18 })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...reading, ingestTs: -9e15 })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...reading, ts: 8.64e15 })), 'accepted');
    assert.equal(isoTime(8.64e15 + 1), null);
    assert.equal(isoTime(0), '1970-01-01T00:00:00.000Z');
  });

  it('rejects each kind of malformed frame with its own reason', () => {
    const base = { ...reading } as Record<string, unknown>;
    assert.equal(rejection(Buffer.alloc(MAX_FRAME_BYTES + 1, 32)), 'oversized');
    assert.equal(rejection(Buffer.from([0xff, 0x00, 0x13])), 'not_json');
    assert.equal(rejection('{"v":1'), 'not_json');
    assert.equal(rejection('[1,2]'), 'not_object');
    assert.equal(rejection('null'), 'not_object');
    assert.equal(rejection(JSON.stringify({ ...base, v: 2 })), 'schema_version');
    assert.equal(rejection(JSON.stringify(base), 'score'), 'wrong_kind');
    assert.equal(rejection(JSON.stringify({ ...base, asset: '' })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...base, asset: 'a/b' })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...base, seq: -1 })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...base, seq: 1.5 })), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...base, ts: 'now' })), 'bad_envelope');
    assert.equal(rejection('{"v":1,"kind":"reading","asset":"a","seq":1,"ts":1e400,"ingestTs":1,"channels":{"x":1}}'), 'bad_envelope');
    assert.equal(rejection(JSON.stringify({ ...base, channels: {} })), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...base, channels: { x: 'high' } })), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...base, channels: [1, 2] })), 'bad_payload');
  });

  it('accepts a huge reading value (JSON 1e400 is Infinity) for the preprocessor to judge', () => {
    const frame = '{"v":1,"kind":"reading","asset":"a","seq":1,"ts":1,"ingestTs":1,"channels":{"x":1e400}}';
    assert.equal(decodeMessage(Buffer.from(frame), 'reading').channels.x, Number.POSITIVE_INFINITY);
  });

  it('validates the payload of every stage', () => {
    const envelope = { v: 1, asset: 'a', seq: 1, ts: 1, ingestTs: 1 };
    const model = { name: 'm', version: '1' };
    const features = { ...envelope, kind: 'features', features: [0.1, 0.2], warmup: false, imputed: [] };
    assert.equal(rejection(JSON.stringify(features), 'features'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...features, features: [] }), 'features'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...features, features: [1, null] }), 'features'), 'bad_payload');
    const score = { ...envelope, kind: 'score', score: 0.5, contributions: { a: 1 }, warmup: false, model };
    assert.equal(rejection(JSON.stringify(score), 'score'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...score, score: -1 }), 'score'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...score, model: {} }), 'score'), 'bad_payload');
    const calibrated = { samplePeriodMs: 100, weight: 0.5, changedLevel: true, newLevel: true };
    assert.equal(rejection(JSON.stringify({ ...score, calibrated }), 'score'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...score, calibrated: { ...calibrated, changedLevel: 'yes' } }), 'score'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...score, calibrated: { ...calibrated, newLevel: 1 } }), 'score'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...score, calibrated: { ...calibrated, homeSurprise: 3.5, homeWeight: 0.2 } }), 'score'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...score, calibrated: { ...calibrated, homeSurprise: -1 } }), 'score'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...score, calibrated: { ...calibrated, homeWeight: 2 } }), 'score'), 'bad_payload');
    const decision = {
      ...envelope,
      kind: 'decision',
      state: 'normal',
      changed: false,
      since: 1,
      score: 0.5,
      threshold: { high: 2, low: 1 },
      contributions: { a: 1 },
      model,
    };
    assert.equal(rejection(JSON.stringify(decision), 'decision'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...decision, state: 'changed' }), 'decision'), 'accepted');
    assert.equal(rejection(JSON.stringify({ ...decision, state: 'panic' }), 'decision'), 'bad_payload');
    assert.equal(rejection(JSON.stringify({ ...decision, threshold: { high: 2 } }), 'decision'), 'bad_payload');
  });
});
