import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Push } from 'zeromq';
import { decodeMessage, encodeMessage, PullPipe, SCHEMA_VERSION, type DecisionMessage } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startRedis, type TestServer } from '../../../test/harness/servers.js';
import { loadThresholdConfig } from '../src/config.js';
import { startThresholdService, type ThresholdService } from '../src/threshold-service.js';

const logger = pino({ level: 'silent' });

describe('adaptive-threshold (in-process, real Redis and ZeroMQ)', () => {
  let redis: TestServer;
  let downstream: PullPipe;
  let outputEndpoint: string;
  const decisions: DecisionMessage[] = [];
  let seq = 0;

  before(async () => {
    redis = await startRedis();
    outputEndpoint = `tcp://127.0.0.1:${await freePort()}`;
    downstream = await PullPipe.bind({ endpoint: outputEndpoint, highWaterMark: 10_000 });
    void (async () => {
      for await (const [frame] of downstream.messages()) decisions.push(decodeMessage(frame as Buffer, 'decision'));
    })();
  });

  after(async () => {
    downstream.close();
    await redis.stop();
  });

  async function start(overrides: Record<string, unknown> = {}): Promise<{ service: ThresholdService; upstream: Push; opsPort: number }> {
    const inputPort = await freePort();
    const opsPort = await freePort();
    const service = await startThresholdService(
      loadThresholdConfig({
        redisUrl: redis.url,
        metricsPort: opsPort,
        metricsHost: '127.0.0.1',
        input: { endpoint: `tcp://127.0.0.1:${inputPort}` },
        output: { endpoint: outputEndpoint },
        warmupSamples: 50,
        enterK: 3,
        enterN: 5,
        exitK: 5,
        exitN: 5,
        flushMs: 50,
        ...overrides,
      }),
      logger,
    );
    const upstream = new Push({ linger: 1000 });
    upstream.connect(`tcp://127.0.0.1:${inputPort}`);
    return { service, upstream, opsPort };
  }

  const score = (value: number, warmup = false, calibrated?: { samplePeriodMs: number; changedLevel?: boolean; newLevel?: boolean }, asset = 'pump-2') => {
    seq += 1;
    return encodeMessage({
      v: SCHEMA_VERSION,
      kind: 'score',
      asset,
      seq,
      ts: 1_800_000_000_000 + seq * 100,
      ingestTs: Date.now(),
      score: value,
      contributions: { pressure: 0.7, flow: 0.3 },
      warmup,
      model: { name: calibrated ? 'detector' : 'm', version: '1' },
      ...(calibrated ? { calibrated } : {}),
    });
  };
  const normal = (i: number) => 0.01 * Math.exp(0.2 * Math.sin(i));

  it('warms up, decides normal, enters anomalous on a sustained high score, and says so in metrics', async () => {
    const { service, upstream, opsPort } = await start();
    await upstream.send(score(0, true));
    for (let i = 0; i < 100; i += 1) await upstream.send(score(normal(i)));
    for (let i = 0; i < 5; i += 1) await upstream.send(score(10));
    await waitFor('106 decisions', () => decisions.length >= 106 || undefined, 5000);
    const metrics = await scrape(opsPort);
    await service.stop();
    upstream.close();
    assert.equal(decisions[0]?.state, 'warmup');
    assert.equal(decisions[60]?.state, 'normal');
    const entered = decisions.filter((decision) => decision.changed && decision.state === 'anomalous');
    assert.equal(entered.length, 1);
    assert.equal(entered[0]?.seq, 104, 'the third high score of five');
    assert.deepEqual(entered[0]?.contributions, { pressure: 0.7, flow: 0.3 });
    assert.equal(metricSum(metrics, 'vigil_anomalies_total', { asset: 'pump-2' }), 1);
    assert.equal(metricSum(metrics, 'vigil_asset_state', { asset: 'pump-2' }), 2);
    assert.ok(metricSum(metrics, 'vigil_anomaly_threshold', { asset: 'pump-2', mark: 'high' }) > 0.01);
  });

  it('resumes after a restart with the learned marks and the anomalous state, not a cold start', async () => {
    const before = decisions.at(-1) as DecisionMessage;
    const { service, upstream } = await start();
    await upstream.send(score(10));
    await waitFor('a decision', () => decisions.length > 106 || undefined, 5000);
    await service.stop();
    upstream.close();
    const after = decisions.at(-1) as DecisionMessage;
    assert.equal(after.state, 'anomalous');
    assert.equal(after.changed, false);
    assert.equal(after.since, before.since);
    assert.equal(after.threshold.high, before.threshold.high);
  });

  it('with a settle factor configured, ends the alarm when the scores fall that far below its level', async () => {
    const { service, upstream } = await start({ settleFactor: 10 });
    const from = decisions.length;
    for (let i = 0; i < 5; i += 1) await upstream.send(score(10));
    // 20x lower, still far above the high mark learned from scores near 0.01.
    for (let i = 0; i < 5; i += 1) await upstream.send(score(0.5));
    await waitFor('10 decisions', () => decisions.length >= from + 10 || undefined, 5000);
    await service.stop();
    upstream.close();
    const states = decisions.slice(from).map((decision) => decision.state);
    assert.deepEqual(states, [...Array(9).fill('anomalous'), 'normal']);
    const settled = decisions.at(-1) as DecisionMessage;
    assert.equal(settled.changed, true);
    assert.ok(Math.abs(settled.threshold.high / 5 - 1) < 1e-6, `a new alarm needs 10x the settled 0.5, got ${settled.threshold.high}`);
    assert.throws(() => loadThresholdConfig({ settleFactor: 0.5 }), /settleFactor must be 0 \(off\) or above 1/);
  });

  it('judges calibrated scores (the default detector) with no warm-up: an alarm from a false-alarm rate, ended after a quiet spell, kept across a restart', async () => {
    const calibrated = { samplePeriodMs: 100 };
    const asset = 'pump-3';
    const { service, upstream, opsPort } = await start();
    const from = decisions.length;
    // At 10 Hz and one false alarm a week the evidence level is log10(6,048,000) = 6.78 and each
    // sample's reference half of it: ordinary surprises (0-2) never add up; surprises of 5 in a
    // row add 1.61 each, past the level at the fifth.
    for (let i = 0; i < 20; i += 1) await upstream.send(score(i % 3, false, calibrated, asset));
    for (let i = 0; i < 6; i += 1) await upstream.send(score(5, false, calibrated, asset));
    await waitFor('26 decisions', () => decisions.length >= from + 26 || undefined, 5000);
    const metrics = await scrape(opsPort);
    await service.stop();
    upstream.close();
    const mine = decisions.slice(from);
    assert.equal(mine[0]?.state, 'normal', 'no warm-up: the model was calibrated on its learning period');
    assert.ok(mine.slice(0, 20).every((decision) => decision.state === 'normal'));
    const entered = mine.findIndex((decision) => decision.state === 'anomalous');
    assert.equal(entered, 24, 'the fifth surprise of 5 in a row (evidence 8.05, the level 6.78)');
    assert.ok(Math.abs((mine[0]?.threshold.high ?? 0) - Math.log10((7 * 24 * 3600 * 10) / 1)) < 1e-9);
    assert.equal(metricSum(metrics, 'vigil_asset_state', { asset }), 2);

    // Restarted: the alarm is kept (state from Redis), then ends once the evidence has been gone
    // for the clear time (30 s at 10 Hz: 300 samples), not at the first quiet sample.
    const again = await start();
    const resumed = decisions.length;
    for (let i = 0; i < 310; i += 1) await again.upstream.send(score(0.5, false, calibrated, asset));
    await waitFor('310 decisions', () => decisions.length >= resumed + 310 || undefined, 10_000);
    await again.service.stop();
    again.upstream.close();
    const after = decisions.slice(resumed);
    assert.equal(after[0]?.state, 'anomalous', 'restored from Redis, not a cold start');
    const cleared = after.findIndex((decision) => decision.state === 'normal');
    assert.ok(cleared > 290 && cleared < 310, `cleared after ~30 s of quiet, at sample ${cleared}`);
  });
  it('reads a settled new level as changed: one alarm when the detector takes it from normal, changed once the alarm ends, normal when it is back', async () => {
    const asset = 'pump-4';
    const { service, upstream, opsPort } = await start();
    const from = decisions.length;
    const at = (changedLevel: boolean, newLevel = false) => ({ samplePeriodMs: 100, ...(changedLevel ? { changedLevel } : {}), ...(newLevel ? { newLevel } : {}) });
    // Ordinary surprises, then the detector takes a held new level (every sample of it rare) that
    // the evidence had not raised on: the alarm rises on that sample, then ends after 30 s of quiet
    // into changed (not normal), and the asset is normal again once the detector is back home.
    for (let i = 0; i < 10; i += 1) await upstream.send(score(0.5, false, at(false), asset));
    await upstream.send(score(0.5, false, at(true, true), asset));
    for (let i = 0; i < 320; i += 1) await upstream.send(score(0.5, false, at(true), asset));
    await waitFor('331 decisions', () => decisions.length >= from + 331 || undefined, 10_000);
    const metrics = await scrape(opsPort);
    for (let i = 0; i < 5; i += 1) await upstream.send(score(0.5, false, at(false), asset));
    await waitFor('336 decisions', () => decisions.length >= from + 336 || undefined, 5000);
    await service.stop();
    upstream.close();
    const mine = decisions.slice(from);
    assert.deepEqual(
      mine.filter((decision) => decision.changed).map((decision) => decision.state),
      ['normal', 'anomalous', 'changed', 'normal'],
      'normal (first scored) -> anomalous (the new level) -> changed (alarm over, still not normal) -> normal (back)',
    );
    assert.equal(mine[10]?.state, 'anomalous', 'raised on the sample the new level was taken');
    assert.equal(metricSum(metrics, 'vigil_asset_state', { asset }), 3, 'changed is state 3 on the dashboard');
    assert.equal(metricSum(metrics, 'vigil_anomalies_total', { asset }), 1);
  });
});
