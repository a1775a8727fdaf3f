/**
 * kill -9 of each service in turn while the pipeline runs: it must resume within 5 s of the
 * restart, and what the crash cost must show in seq accounting, never vanish: at the end, every
 * sample the reader sent either reached the alert-publisher or is counted in its
 * vigil_seq_lost_total.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metricSum, scrape } from '../harness/metrics.js';
import { startHealthy, startPipeline, type RunningPipeline } from '../harness/pipeline.js';
import { waitFor } from '../harness/ports.js';
import type { ServiceName } from '../harness/processes.js';

const RATE_HZ = 10;
const SIM_SPEED = 20; // 200 readings a second
const TOTAL_SAMPLES = 9_000;
const RESUME_LIMIT_MS = 5_000;

describe('kill -9 of each stage', { timeout: 180_000 }, () => {
  let pipeline: RunningPipeline;
  const publisherCount = async (outcome = 'ok') =>
    metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_messages_total', { outcome });
  const publisherLost = async () => metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_seq_lost_total');

  /** Kills a service, restarts it after `downMs`, and returns how long the pipeline took to flow again. */
  async function crashAndRestart(name: ServiceName, downMs = 1_000): Promise<number> {
    // The publisher's own counters start again at 0 when it is the one restarted.
    const before = name === 'alert-publisher' ? 0 : await publisherCount();
    await pipeline.services.get(name)?.kill9();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const restartedAt = Date.now();
    pipeline.services.set(name, await startHealthy(name, pipeline.env[name], pipeline.ports.metrics[name]));
    await waitFor(`the pipeline to flow again after ${name} restarted`, async () => (await publisherCount()) > before + 20 || undefined, 30_000, 50);
    return Date.now() - restartedAt;
  }

  before(async () => {
    pipeline = await startPipeline({
      deviceId: 'crash-test',
      readerEnv: {
        VIGIL_SENSOR_READER_RATE_HZ: String(RATE_HZ),
        VIGIL_SENSOR_READER_SIM_SPEED: String(SIM_SPEED),
        VIGIL_SENSOR_READER_SIM_FAULTS: '',
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(TOTAL_SAMPLES),
      },
    });
    await waitFor('the pipeline past warm-up', async () => (await publisherCount()) > 1_500 || undefined, 60_000, 100);
  });

  after(async () => {
    await pipeline?.stop();
  });

  it('resumes within 5 s of each middle stage restarting, and accounts for every sample', async () => {
    const resume: Record<string, number> = {};
    for (const name of ['preprocessor', 'inference', 'adaptive-threshold'] as const) {
      const lostBefore = await publisherLost();
      resume[name] = await crashAndRestart(name);
      // Give the gap time to be observed (it is counted when the next seq arrives).
      await new Promise((resolve) => setTimeout(resolve, 500));
      console.log(`${name}: flowing again ${resume[name]} ms after restart; seq lost in the crash: ${(await publisherLost()) - lostBefore}`);
    }
    for (const [name, ms] of Object.entries(resume)) assert.ok(ms <= RESUME_LIMIT_MS, `${name} took ${ms} ms to resume`);

    // Every reading the simulator made, sent or shed at the reader (a reading that finds no
    // preprocessor to take it is dropped there and counted, and its seq shows as a gap).
    const made = () => scrape(pipeline.ports.metrics['sensor-reader']).then((samples) => metricSum(samples, 'vigil_messages_total'));
    await waitFor('the reader to finish', async () => (await made()) >= TOTAL_SAMPLES || undefined, 90_000, 200);
    const shed = metricSum(await scrape(pipeline.ports.metrics['sensor-reader']), 'vigil_messages_total', { outcome: 'dropped' });
    console.log(`readings shed at the reader while a stage was down: ${shed}`);
    // The reader's seqs start at 1 in a new Redis, and every reading, warm-up included, travels
    // the whole pipeline (flagged, not held back), so the publisher accounts for seq 1..N.
    const accounted = async () => (await publisherCount()) + (await publisherLost());
    const expected = TOTAL_SAMPLES;
    await waitFor('every sample delivered or counted lost', async () => ((await accounted()) >= expected ? true : undefined), 30_000, 200).catch(
      async (error: Error) => {
        throw new Error(`${error.message}: ok ${await publisherCount()}, lost ${await publisherLost()}, expected ${expected}`);
      },
    );
    assert.equal(await accounted(), expected, 'delivered + counted lost = sent (nothing silent, nothing twice)');
    assert.ok((await publisherLost()) > 0, 'the crashes cost samples, and the count says so');
  });

  it('resumes within 5 s after the reader and then the publisher are killed', async () => {
    // A fresh run for the restarted reader: it reserves a new seq block, so its first seq jumps
    // past the end of the last block; the jump is visible downstream as a gap.
    pipeline.env['sensor-reader'] = { ...pipeline.env['sensor-reader'], VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: '0' };
    const gapsBefore = metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_seq_gaps_total');
    const readerResume = await crashAndRestart('sensor-reader');
    console.log(`sensor-reader: flowing again ${readerResume} ms after restart`);
    assert.ok(readerResume <= RESUME_LIMIT_MS, `reader took ${readerResume} ms`);
    await waitFor('the seq jump to be counted', async () => metricSum(await scrape(pipeline.ports.metrics['alert-publisher']), 'vigil_seq_gaps_total') > gapsBefore || undefined, 10_000, 100);

    const publisherResume = await crashAndRestart('alert-publisher');
    console.log(`alert-publisher: flowing again ${publisherResume} ms after restart`);
    assert.ok(publisherResume <= RESUME_LIMIT_MS, `publisher took ${publisherResume} ms`);
  });
});
