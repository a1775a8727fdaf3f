/**
 * The outbox's disk is full (a 64 KiB tmpfs filled to the last byte): the alert-publisher says so
 * clearly (a log line, vigil_outbox_write_errors_total, /healthz unhealthy), keeps running, and
 * still publishes the alert straight to the broker. Needs root to mount the tmpfs; skipped
 * otherwise (CI runs as root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { healthz, metricSum, scrape } from '../harness/metrics.js';
import { MqttListener } from '../harness/mqtt-listener.js';
import { startPipeline, type RunningPipeline } from '../harness/pipeline.js';
import { waitFor } from '../harness/ports.js';

const isRoot = process.getuid?.() === 0;
const DEVICE = 'disk-full-test';

/** Fills a filesystem: writes a file as large as it will take. */
function fill(dir: string): void {
  for (let size = 64 * 1024; size >= 1; size = Math.floor(size / 2)) {
    try {
      for (let i = 0; ; i++) writeFileSync(join(dir, `filler-${size}-${i}`), Buffer.alloc(size));
    } catch {
      // ENOSPC at this size: go on with smaller files until not even one byte fits.
    }
  }
}

describe('outbox on a full disk', { skip: isRoot ? false : 'needs root to mount a tmpfs', timeout: 120_000 }, () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'vigil-full-disk-'));
  let pipeline: RunningPipeline | undefined;
  let listener: MqttListener | undefined;

  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
    fill(mountPoint);
    pipeline = await startPipeline({
      deviceId: DEVICE,
      beforeServices: async ({ broker }) => {
        listener = await MqttListener.connect(broker.url, [`vigil/${DEVICE}/#`]);
      },
      readerEnv: {
        VIGIL_SENSOR_READER_RATE_HZ: '10',
        VIGIL_SENSOR_READER_SIM_SPEED: '50',
        VIGIL_SENSOR_READER_SIM_FAULTS: 'bearing-wear@250+60',
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: '4000',
      },
      everyServiceEnv: { VIGIL_ALERT_PUBLISHER_OUTBOX_PATH: join(mountPoint, 'outbox.jsonl'), VIGIL_LOG_LEVEL: 'warn' },
    });
  });

  after(async () => {
    await listener?.close();
    await pipeline?.stop();
    if (isRoot) execFileSync('umount', [mountPoint]);
  });

  it('publishes the alert anyway, says why the outbox failed, and keeps running', async () => {
    assert.ok(pipeline && listener);
    const alert = await waitFor('an alert', () => listener?.on('/alert')[0], 90_000, 200);
    assert.equal((JSON.parse(alert.payload) as { device: string }).device, DEVICE);

    const port = pipeline.ports.metrics['alert-publisher'];
    assert.ok(metricSum(await scrape(port), 'vigil_outbox_write_errors_total') >= 1, 'the failed write is counted');
    const health = await healthz(port);
    assert.equal(health.status, 503, 'healthz reports the outbox');
    const publisher = pipeline.services.get('alert-publisher');
    assert.ok(publisher?.running, 'still running');
    assert.match(publisher?.text() ?? '', /outbox cannot write to disk.*ENOSPC|ENOSPC.*outbox cannot write to disk/);
  });
});
