/**
 * Garbage into every stage of a running pipeline (separate processes, real sockets): each bad
 * frame is rejected and counted by reason, no service dies, and the valid traffic interleaved
 * with the garbage still arrives whole and in order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Push } from 'zeromq';
import { metricSum, scrape } from './harness/metrics.js';
import { PIPELINE_ORDER, stageSender, startPipeline, type PipelinePorts, type RunningPipeline } from './harness/pipeline.js';
import { waitFor } from './harness/ports.js';

const TOTAL_SAMPLES = 2500;

/** Frames no stage may accept, each with the reason it must be counted under. */
function garbageFrames(stage: string): Array<{ frame: Buffer | Buffer[]; reason: string }> {
  const kind = { preprocessor: 'reading', inference: 'features', 'adaptive-threshold': 'score', 'alert-publisher': 'decision' }[stage];
  const envelope = { v: 1, kind, asset: 'fuzz', seq: 1, ts: 1, ingestTs: 1 };
  const frames: Array<{ frame: Buffer | Buffer[]; reason: string }> = [];
  // 2,500 a stage: 10,000 malformed frames in all, the volume of a sensor gone mad for minutes.
  for (let i = 0; i < 1247; i += 1) {
    // Random bytes that are not JSON (a leading 0xff byte is never valid UTF-8 JSON).
    frames.push({ frame: Buffer.concat([Buffer.from([0xff]), randomBytes(1 + (i % 50))]), reason: 'not_json' });
    // A message cut short: any proper prefix of a JSON object is not JSON.
    const whole = JSON.stringify({ ...envelope, seq: i });
    frames.push({ frame: Buffer.from(whole.slice(0, 1 + ((i * 7) % (whole.length - 1)))), reason: 'not_json' });
  }
  frames.push({ frame: Buffer.alloc(70_000, 0x20), reason: 'oversized' });
  frames.push({ frame: [Buffer.from('{}'), Buffer.from('{}')], reason: 'multipart' });
  frames.push({ frame: Buffer.from('[]'), reason: 'not_object' });
  frames.push({ frame: Buffer.from(JSON.stringify({ ...envelope, v: 2 })), reason: 'schema_version' });
  frames.push({ frame: Buffer.from(JSON.stringify({ ...envelope, kind: 'other' })), reason: 'wrong_kind' });
  frames.push({ frame: Buffer.from(JSON.stringify({ ...envelope, seq: -4 })), reason: 'bad_envelope' });
  frames.push({ frame: Buffer.from(JSON.stringify({ ...envelope, asset: 'x'.repeat(100) })), reason: 'bad_envelope' });
  frames.push({ frame: Buffer.from(JSON.stringify(envelope)), reason: 'bad_payload' });
  return frames;
}

/** Readings with good form but bad values, for the preprocessor's validation. */
function badReadings(): Array<{ frame: Buffer; reason: string }> {
  const reading = (seq: number, channels: Record<string, unknown>) =>
    Buffer.from(JSON.stringify({ v: 1, kind: 'reading', asset: 'fuzz-readings', seq, ts: 1, ingestTs: Date.now(), channels }));
  const good = { vibration1: 0.03, vibration2: 0.03, current: 3, pressure: 1.5, motorTemperature: 60, fluidTemperature: 24, voltage: 225, flow: 32 };
  return [
    { frame: reading(1, { ...good, pressure: 'Infinity' }), reason: 'stale_imputation' },
    { frame: reading(2, { ...good, flow: null }), reason: 'stale_imputation' },
    { frame: reading(3, { ...good, pressure: 1e9 }), reason: 'out_of_range' },
    { frame: reading(4, { ...good, rpm: 1500 }), reason: 'unknown_channel' },
    { frame: reading(5, { ...good, current: 'high' }), reason: 'bad_payload' },
    { frame: reading(4, good), reason: 'out_of_order' },
  ];
}

describe('bad input into every stage of a running pipeline', { timeout: 240_000 }, () => {
  let pipeline: RunningPipeline;
  let ports: PipelinePorts;

  before(async () => {
    pipeline = await startPipeline({
      deviceId: 'fuzzed',
      readerEnv: {
        VIGIL_SENSOR_READER_SIM_SPEED: '25',
        VIGIL_SENSOR_READER_SIM_FAULTS: '',
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(TOTAL_SAMPLES),
      },
    });
    ports = pipeline.ports;
  });

  after(async () => {
    for (const exit of (await pipeline?.stop()) ?? []) assert.equal(exit.code, 0, `${exit.name} exit code`);
  });

  it('rejects and counts each bad frame by reason while valid traffic flows through untouched', async () => {
    const expected = new Map<string, Map<string, number>>();
    const sockets: Push[] = [];
    for (const stage of ['preprocessor', 'inference', 'adaptive-threshold', 'alert-publisher'] as const) {
      // Holding the pipeline key: garbage from a stage gone wrong (strangers: test/hostile).
      const socket = stageSender(pipeline);
      socket.connect(`tcp://127.0.0.1:${ports.input[stage]}`);
      sockets.push(socket);
      const frames = [...garbageFrames(stage), ...(stage === 'preprocessor' ? badReadings() : [])];
      const counts = new Map<string, number>();
      for (const [index, { frame, reason }] of frames.entries()) {
        await socket.send(frame);
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
        // Interleave with the live traffic rather than sending one burst.
        if (index % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      expected.set(stage, counts);
    }
    await waitFor(
      'all valid samples at the publisher',
      async () => metricSum(await scrape(ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome: 'ok' }) >= TOTAL_SAMPLES || undefined,
      90_000,
      250,
    );
    for (const socket of sockets) socket.close();

    for (const [stage, counts] of expected) {
      const metrics = await scrape(ports.metrics[stage as keyof PipelinePorts['metrics']]);
      for (const [reason, count] of counts) {
        assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'rejected', reason }), count, `${stage} ${reason}`);
      }
    }
    for (const name of PIPELINE_ORDER) {
      const metrics = await scrape(ports.metrics[name]);
      assert.equal(metricSum(metrics, 'vigil_messages_total', { outcome: 'ok' }), TOTAL_SAMPLES, `${name} passed every valid sample`);
      assert.equal(metricSum(metrics, 'vigil_seq_lost_total'), 0, `${name} lost nothing`);
    }
    const sent = [...expected.values()].reduce((total, counts) => total + [...counts.values()].reduce((a, b) => a + b, 0), 0);
    assert.ok(sent >= 10_000, `${sent} malformed frames sent`);
    for (const service of pipeline.services.values()) {
      assert.ok(service.running, `${service.name} is still running`);
      // Rate-limited: a log line per reason per 10 s, not one per bad frame.
      const rejectionLines = service.text().split('\n').filter((line) => line.includes('rejected')).length;
      assert.ok(rejectionLines < 60, `${service.name} logged ${rejectionLines} rejection lines`);
    }
  });
});
