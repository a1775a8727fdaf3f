import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SCHEMA_VERSION, type DecisionMessage } from '@vigil/shared/runtime';
import { AlertPolicy, isClockPlausible, rescuedAlert } from '../src/alert-policy.js';
import { MAX_MUTE_MS, Mutes } from '../src/commands.js';
import { Outbox, type Alert, type OutputName } from '../src/outbox.js';

function alert(id: string): Alert {
  return {
    id,
    device: 'd',
    asset: 'a',
    seq: 1,
    ts: 0,
    time: '',
    clockSynced: true,
    severity: 'warning',
    score: 1,
    threshold: 0.5,
    contributors: [],
    model: { name: 'm', version: '1' },
  };
}

describe('Outbox', () => {
  it('holds alerts until acknowledged, across a restart', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl');
    const first = new Outbox(path);
    first.add(alert('a'));
    first.add(alert('b'));
    first.ack('a');
    const second = new Outbox(path);
    assert.deepEqual(second.pending().map((pending) => pending.id), ['b']);
  });

  it('survives a line torn by a power cut, keeping everything before it', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl');
    new Outbox(path).add(alert('kept'));
    appendFileSync(path, '{"op":"add","alert":{"id":"to');
    assert.deepEqual(new Outbox(path).pending().map((pending) => pending.id), ['kept']);
  });

  it('compacts to the pending alerts', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl');
    const outbox = new Outbox(path, ['mqtt'], 10);
    for (let i = 0; i < 30; i += 1) {
      outbox.add(alert(String(i)));
      if (i !== 29) outbox.ack(String(i));
    }
    assert.ok(readFileSync(path, 'utf8').split('\n').filter(Boolean).length < 20);
    assert.deepEqual(new Outbox(path).pending().map((pending) => pending.id), ['29']);
  });

  it('keeps an alert for each output until that output has it, across restarts and compactions', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'outbox.jsonl');
    const first = new Outbox(path, ['mqtt', 'webhook'], 4);
    for (const id of ['a', 'b', 'c']) first.add(alert(id));
    first.ack('a');
    first.ack('b', 'webhook');
    first.ack('c');
    first.ack('c', 'webhook');
    const ids = (outbox: Outbox, output: OutputName) => [...outbox.pendingOldestFirst(output)].map((pending) => pending.id);
    assert.deepEqual(ids(first, 'mqtt'), ['b']);
    assert.deepEqual(ids(first, 'webhook'), ['a']);
    assert.equal(first.size, 2, 'c is gone: both outputs have it');
    // The restart compacts: what each output delivered survives it.
    const second = new Outbox(path, ['mqtt', 'webhook']);
    assert.deepEqual(ids(second, 'mqtt'), ['b']);
    assert.deepEqual(ids(second, 'webhook'), ['a']);
    assert.equal(new Outbox(path, ['mqtt', 'webhook']).sizeFor('webhook'), 1, 'compacted twice, still the same');
    // An output taken out of the configuration waits for nothing; one added gets what is pending.
    assert.deepEqual(new Outbox(path, ['mqtt']).pending().map((pending) => pending.id), ['b']);
    assert.deepEqual(ids(new Outbox(path, ['mqtt', 'sparkplug']), 'sparkplug'), ['b']);
  });

  it('reports a disk that refuses writes instead of throwing, and keeps the alert in memory', () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'vigil-outbox-')), 'volume');
    const outbox = new Outbox(join(folder, 'outbox.jsonl'));
    // The volume disappears under the service and a file takes its name: every write fails.
    rmSync(folder, { recursive: true });
    writeFileSync(folder, '');
    assert.equal(outbox.add(alert('x')), false);
    assert.match(outbox.lastWriteError ?? '', /ENOTDIR/);
    assert.deepEqual(outbox.pending().map((pending) => pending.id), ['x']);
  });
});

describe('AlertPolicy', () => {
  const decision = (seq: number, ts: number, state: DecisionMessage['state'], changed: boolean, score = 2): DecisionMessage => ({
    v: SCHEMA_VERSION,
    kind: 'decision',
    asset: 'pump-1',
    seq,
    ts,
    ingestTs: ts,
    state,
    changed,
    since: ts,
    score,
    threshold: { high: 1, low: 0.5 },
    contributions: { pressure: 0.6, flow: 0.3, current: 0.1, voltage: 0 },
    model: { name: 'm', version: '1' },
  });

  it('alerts on entering anomalous, not on every anomalous sample', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 });
    const verdict = policy.judge(decision(10, Date.UTC(2026, 0, 1), 'anomalous', true));
    assert.equal(verdict.kind, 'alert');
    if (verdict.kind !== 'alert') return;
    assert.equal(verdict.alert.id, 'dev:pump-1:10');
    assert.equal(verdict.alert.severity, 'warning');
    assert.deepEqual(verdict.alert.contributors.map((c) => c.sensor), ['pressure', 'flow', 'current']);
    assert.equal(policy.judge(decision(11, Date.UTC(2026, 0, 1) + 100, 'anomalous', false)).kind, 'none');
  });

  it('suppresses a re-entry within the cooldown, and alerts again after it', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 });
    const t0 = Date.UTC(2026, 0, 1);
    policy.judge(decision(1, t0, 'anomalous', true));
    assert.equal(policy.judge(decision(2, t0 + 1000, 'normal', true)).kind, 'cleared');
    assert.equal(policy.judge(decision(3, t0 + 30_000, 'anomalous', true)).kind, 'suppressed');
    const later = policy.judge(decision(4, t0 + 61_000, 'anomalous', true, 5));
    assert.equal(later.kind, 'alert');
    assert.equal(later.kind === 'alert' && later.alert.severity, 'critical');
  });

  it('makes each alarm an episode: raised, cleared with its summary, re-entries counted, a different fault a new episode', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 300_000, criticalRatio: 3 });
    const t0 = Date.UTC(2026, 0, 1);
    const raised = policy.judge(decision(10, t0, 'anomalous', true, 2));
    assert.equal(raised.kind, 'alert');
    if (raised.kind !== 'alert') return;
    assert.equal(raised.alert.event, 'raised');
    assert.equal(raised.alert.episode, 'dev:pump-1:10');
    policy.judge(decision(11, t0 + 100, 'anomalous', false, 9));
    const cleared = policy.judge(decision(12, t0 + 20_000, 'normal', true, 0.2));
    assert.equal(cleared.kind, 'cleared');
    if (cleared.kind !== 'cleared') return;
    assert.equal(cleared.alert.event, 'cleared');
    assert.equal(cleared.alert.episode, 'dev:pump-1:10');
    assert.equal(cleared.alert.id, 'dev:pump-1:10:cleared:1');
    assert.equal(cleared.alert.durationS, 20);
    assert.equal(cleared.alert.score, 9, 'the peak over the episode');
    assert.equal(cleared.alert.contributors[0]?.sensor, 'pressure');
    assert.equal(cleared.alert.reentries, 0);
    assert.equal(cleared.alert.now, 'normal');
    // The same fault flaps back within the cooldown: the same episode, counted, no new alert.
    assert.deepEqual(policy.judge(decision(13, t0 + 40_000, 'anomalous', true)), { kind: 'suppressed', episode: 'dev:pump-1:10' });
    const again = policy.judge(decision(14, t0 + 50_000, 'normal', true));
    assert.equal(again.kind === 'cleared' && again.alert.reentries, 1);
    assert.equal(again.kind === 'cleared' && again.alert.id, 'dev:pump-1:10:cleared:2');
    // A different sensor leads within the cooldown: another fault, a new episode and an alert.
    const other = { ...decision(15, t0 + 60_000, 'anomalous', true), contributions: { flow: 0.7, pressure: 0.2, current: 0.1 } };
    const second = policy.judge(other);
    assert.equal(second.kind, 'alert');
    assert.equal(second.kind === 'alert' && second.alert.episode, 'dev:pump-1:15');
  });

  it('ends an episode into changed when the asset settled at a new level, and alerts anew when it leaves it', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 });
    const t0 = Date.UTC(2026, 0, 1);
    assert.equal(policy.judge(decision(1, t0, 'anomalous', true)).kind, 'alert');
    const settled = policy.judge(decision(2, t0 + 40_000, 'changed', true));
    assert.equal(settled.kind, 'cleared');
    assert.equal(settled.kind === 'cleared' && settled.alert.now, 'changed', 'over, but not normal: the operator is told so');
    assert.equal(policy.judge(decision(3, t0 + 50_000, 'changed', false)).kind, 'none', 'no stream of alerts while it holds the new level');
    const next = { ...decision(4, t0 + 120_000, 'anomalous', true), contributions: { flow: 0.9, pressure: 0.1 } };
    assert.equal(policy.judge(next).kind, 'alert', 'the next change, from the new level, is an alarm of its own');
  });

  it('raises and clears an episode whose marked change was lost on the way, from the state of the next decision', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 });
    const t0 = Date.UTC(2026, 0, 1);
    assert.equal(policy.judge(decision(1, t0, 'normal', false)).kind, 'none');
    // seq 2, the decision that went anomalous (changed: true), never arrived.
    const raised = policy.judge(decision(3, t0 + 2000, 'anomalous', false, 4));
    assert.equal(raised.kind, 'alert', 'the alarm is not lost with the one message that marked it');
    assert.equal(raised.kind === 'alert' && raised.missedChange, true, 'and it is said how it was found');
    assert.equal(raised.kind === 'alert' && raised.alert.id, 'dev:pump-1:3');
    assert.equal(policy.judge(decision(4, t0 + 3000, 'anomalous', false)).kind, 'none', 'one alert, not one a sample');
    // seq 5, back to normal (changed: true), lost as well.
    const cleared = policy.judge(decision(6, t0 + 9000, 'normal', false));
    assert.equal(cleared.kind, 'cleared', 'the episode does not stay open for ever');
    assert.equal(cleared.kind === 'cleared' && cleared.alert.durationS, 7);
    assert.equal(policy.judge(decision(7, t0 + 10_000, 'anomalous', true)).kind, 'suppressed', 'a marked change is judged as always');
  });

  it('takes an asset first heard of in the anomalous state for no change: its raise went out before a restart', () => {
    const policy = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 });
    assert.equal(policy.judge(decision(40, Date.UTC(2026, 0, 1), 'anomalous', false)).kind, 'none');
  });

  it('rescues an alarm from its own fields only: the same id as the policy gives, no derived parts, serialisable', () => {
    const anomalous = decision(12, Date.UTC(2026, 0, 1), 'anomalous', true, 7);
    const rescued = rescuedAlert(anomalous, 'dev');
    const judged = new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 }).judge(anomalous);
    assert.equal(judged.kind === 'alert' && judged.alert.id, rescued.id, 'a rescued alert and a normal one are the same alert to subscribers');
    assert.equal(rescued.score, 7);
    assert.deepEqual(rescued.contributors, []);
    assert.equal(rescued.time, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(JSON.parse(JSON.stringify(rescued)), rescued);
    // Contributions that would sink the policy play no part in the rescue.
    const odd = { ...anomalous, contributions: null } as unknown as DecisionMessage;
    assert.throws(() => new AlertPolicy({ device: 'dev', cooldownMs: 60_000, criticalRatio: 3 }).judge(odd));
    assert.equal(rescuedAlert(odd, 'dev').id, 'dev:pump-1:12');
  });

  it('marks alerts from a clock that was never set', () => {
    assert.equal(isClockPlausible(Date.UTC(1970, 0, 1, 0, 5)), false);
    assert.equal(isClockPlausible(Date.UTC(2026, 10, 27)), true);
  });
});

describe('mutes kept on disk', () => {
  it('come back after a restart; an expired, an over-long or a torn entry does not, and a torn file is no mute', () => {
    const folder = mkdtempSync(join(tmpdir(), 'vigil-mutes-'));
    try {
      const path = join(folder, 'mutes.json');
      const now = Date.UTC(2026, 11, 7, 12);
      const mutes = new Mutes(path, now);
      mutes.set('pump-1', now + 3_600_000);
      mutes.set('pump-2', now + 60_000);
      mutes.set('pump-3', now + 60_000);
      assert.equal(mutes.clear('pump-3'), true);
      assert.equal(new Mutes(path, now).isMuted('pump-1', now), true);
      assert.equal(new Mutes(path, now).isMuted('pump-3', now), false, 'an unmute is kept too');
      assert.equal(new Mutes(path, now + 120_000).isMuted('pump-2', now + 120_000), false, 'expired while the publisher was down');
      writeFileSync(path, JSON.stringify({ 'pump-4': now + MAX_MUTE_MS + 60_000, 'pump-5': 'tomorrow', 'pump-6': now + 60_000 }));
      const loaded = new Mutes(path, now);
      assert.deepEqual(['pump-4', 'pump-5', 'pump-6'].map((asset) => loaded.isMuted(asset, now)), [false, false, true]);
      writeFileSync(path, '{"pump-1": 17');
      assert.equal(new Mutes(path, now).isMuted('pump-1', now), false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
