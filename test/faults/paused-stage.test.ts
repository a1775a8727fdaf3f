/**
 * A stage that stops consuming (SIGSTOP on inference for 30 s, as a stuck process or a CPU
 * starved by throttling would): the queues in front of it fill to their high-water marks, the
 * reader sheds what finds no room (drop-newest, counted), nothing upstream grows without bound,
 * nothing crashes, and once the stage runs again every reading is accounted for: delivered or
 * counted lost.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { metricSum, scrape } from '../harness/metrics.js';
import { startPipeline, type RunningPipeline } from '../harness/pipeline.js';
import { waitFor } from '../harness/ports.js';

const TOTAL_SAMPLES = 45_000;
const PAUSE_MS = 30_000;
/** A small reader queue so that 30 s of readings overflow it; the middle stages keep their shipped queues (1,000), which must bound their memory. */
const HWM = '500';

function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

describe('a paused stage', { timeout: 180_000 }, () => {
  let pipeline: RunningPipeline;
  const readerCount = async (outcome?: string) =>
    metricSum(await scrape(pipeline.ports.metrics['sensor-reader']), 'vigil_messages_total', outcome ? { outcome } : {});
  const publisher = () => scrape(pipeline.ports.metrics['alert-publisher']);

  before(async () => {
    pipeline = await startPipeline({
      deviceId: 'paused-stage-test',
      readerEnv: {
        VIGIL_SENSOR_READER_RATE_HZ: '10',
        VIGIL_SENSOR_READER_SIM_SPEED: '100', // 1,000 readings a second: 30,000 during the pause
        VIGIL_SENSOR_READER_SIM_FAULTS: '',
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: String(TOTAL_SAMPLES),
      },
      everyServiceEnv: {
        VIGIL_SENSOR_READER_OUTPUT_HWM: HWM,
      },
    });
    await waitFor('the pipeline flowing', async () => metricSum(await publisher(), 'vigil_messages_total', { outcome: 'ok' }) > 500 || undefined, 60_000, 100);
  });

  after(async () => {
    pipeline?.services.get('inference')?.child.kill('SIGCONT');
    await pipeline?.stop();
  });

  // Once 30 s of readings overflow every queue, the reader's PUSH socket refuses every later
  // reading although the preprocessor has taken all it was sent (all stages idle at the same
  // count, both TCP queues empty): libzmq's pipe stays marked full. The reader replaces a socket
  // that refused everything for 2 s (VIGIL_SENSOR_READER_OUTPUT_STALL_RESET_MS); with that set to
  // 0 this test fails (the flow never resumes).
  it('bounds memory, counts what it sheds, and accounts for every reading after', async () => {
    const inference = pipeline.services.get('inference');
    const upstream = { 'sensor-reader': pipeline.services.get('sensor-reader'), preprocessor: pipeline.services.get('preprocessor') };
    const rssBefore = Object.fromEntries(Object.entries(upstream).map(([name, service]) => [name, rssMiB(service?.child.pid)]));
    const shedBefore = await readerCount('dropped');

    inference?.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    const rssPaused = Object.fromEntries(Object.entries(upstream).map(([name, service]) => [name, rssMiB(service?.child.pid)]));
    const shedWhilePaused = (await readerCount('dropped')) - shedBefore;
    inference?.child.kill('SIGCONT');

    for (const [name, service] of Object.entries(upstream)) {
      console.log(`${name}: RSS ${rssBefore[name]?.toFixed(1)} MiB before the pause, ${rssPaused[name]?.toFixed(1)} MiB after 30 s of it`);
      assert.ok(service?.running, `${name} still running`);
      assert.ok((rssPaused[name] ?? Infinity) - (rssBefore[name] ?? 0) < 40, `${name} grew without bound`);
    }
    console.log(`readings shed at the reader during the pause: ${shedWhilePaused}`);
    assert.ok(shedWhilePaused > 0, 'the queues overflowed, and the reader counted what it shed');

    await waitFor('the reader to finish', async () => (await readerCount()) >= TOTAL_SAMPLES || undefined, 90_000, 200);
    const accounted = async () => {
      const samples = await publisher();
      return metricSum(samples, 'vigil_messages_total', { outcome: 'ok' }) + metricSum(samples, 'vigil_seq_lost_total');
    };
    await waitFor('every reading delivered or counted lost', async () => ((await accounted()) >= TOTAL_SAMPLES ? true : undefined), 60_000, 200).catch(
      async (error: Error) => {
        const counts = await Promise.all(
          [...pipeline.services.keys()].map(async (name) => {
            const samples = await scrape(pipeline.ports.metrics[name]);
            return `${name}: ok ${metricSum(samples, 'vigil_messages_total', { outcome: 'ok' })} dropped ${metricSum(samples, 'vigil_messages_total', { outcome: 'dropped' })} lost ${metricSum(samples, 'vigil_seq_lost_total')}`;
          }),
        );
        const { execFileSync } = await import('node:child_process');
        const ports = Object.values(pipeline.ports.input).map(String);
        let sockets: string[] = [];
        try {
          sockets = execFileSync('ss', ['-tn']).toString().split('\n').filter((line) => ports.some((port) => line.includes(`:${port}`)));
        } catch {
          sockets = ['(ss not available: no TCP queue listing)'];
        }
        throw new Error(`${error.message}\n${JSON.stringify(pipeline.ports.input)}\n${sockets.join('\n')}\n${counts.join('\n')}\n${JSON.stringify((await scrape(pipeline.ports.metrics['sensor-reader'])).filter((sample) => sample.name === 'vigil_messages_total'))}`);
      },
    );
    assert.equal(await accounted(), TOTAL_SAMPLES);
    const lost = metricSum(await publisher(), 'vigil_seq_lost_total');
    const resets = metricSum(await scrape(pipeline.ports.metrics['sensor-reader']), 'vigil_output_socket_resets_total');
    console.log(`lost (shed) ${lost} of ${TOTAL_SAMPLES}; delivered ${TOTAL_SAMPLES - lost}; reader socket replaced ${resets} times`);
    for (const service of pipeline.services.values()) assert.ok(service.running, `${service.name} still running`);
  });
});
