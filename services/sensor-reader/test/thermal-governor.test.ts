import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { decodeMessage, PullPipe, type ReadingMessage } from '@vigil/shared/runtime';
import { metricSum, scrape } from '../../../test/harness/metrics.js';
import { freePort, waitFor } from '../../../test/harness/ports.js';
import { startRedis, type TestServer } from '../../../test/harness/servers.js';
import { loadSensorReaderConfig } from '../src/config.js';
import { startSensorReader } from '../src/reader.js';
import { nextRate } from '../src/thermal-governor.js';

const settings = { softLimitC: 75, hysteresisC: 5, stepFactor: 0.5, minRateHz: 1 };

describe('thermal governor steps', () => {
  it('steps down above the soft limit, holds in the hysteresis band, steps back up below it', () => {
    assert.deepEqual(nextRate(settings, 10, 10, 76), { rateHz: 5, reason: 'thermal' });
    assert.deepEqual(nextRate(settings, 10, 5, 80), { rateHz: 2.5, reason: 'thermal' });
    assert.deepEqual(nextRate(settings, 10, 1.25, 90), { rateHz: 1, reason: 'thermal' });
    assert.deepEqual(nextRate(settings, 10, 1, 90), { rateHz: 1, reason: 'thermal' });
    assert.deepEqual(nextRate(settings, 10, 2.5, 72), { rateHz: 2.5, reason: 'thermal' }, 'holds between 70 and 75');
    assert.deepEqual(nextRate(settings, 10, 2.5, 69), { rateHz: 5, reason: 'thermal' });
    assert.deepEqual(nextRate(settings, 10, 8, 60), { rateHz: 10, reason: 'configured' });
    assert.deepEqual(nextRate(settings, 10, 10, undefined), { rateHz: 10, reason: 'configured' });
  });
});

describe('thermal governor in the sensor-reader, with a sysfs folder the test writes', () => {
  let redis: TestServer;
  const readings: ReadingMessage[] = [];
  let sysfs: string;

  before(async () => {
    redis = await startRedis();
    sysfs = mkdtempSync(join(tmpdir(), 'vigil-sysfs-'));
    mkdirSync(join(sysfs, 'class/thermal/thermal_zone0'), { recursive: true });
    mkdirSync(join(sysfs, 'devices/platform/soc/soc:firmware'), { recursive: true });
    writeFileSync(join(sysfs, 'devices/platform/soc/soc:firmware/get_throttled'), '0x50005\n');
  });

  after(async () => {
    await redis.stop();
  });

  const setTemperature = (celsius: number) => writeFileSync(join(sysfs, 'class/thermal/thermal_zone0/temp'), `${celsius * 1000}\n`);

  it('lowers the rate while the CPU is hot, restores it when cool, and exports temperature and throttle flags', async () => {
    setTemperature(60);
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const pull = await PullPipe.bind({ endpoint, highWaterMark: 10_000 });
    void (async () => {
      for await (const [frame] of pull.messages()) readings.push(decodeMessage(frame as Buffer, 'reading'));
    })();
    const port = await freePort();
    const reader = await startSensorReader(
      loadSensorReaderConfig({
        redisUrl: redis.url,
        metricsPort: port,
        metricsHost: '127.0.0.1',
        sysfsRoot: sysfs,
        rateHz: 20,
        output: { endpoint },
        simulator: { faults: '' },
        thermal: { checkMs: 100 },
      }),
      pino({ level: 'silent' }),
    );
    try {
      let metrics = await scrape(port);
      assert.equal(metricSum(metrics, 'vigil_cpu_temperature_celsius'), 60);
      assert.equal(metricSum(metrics, 'vigil_cpu_throttled', { flag: 'under_voltage' }), 1);
      assert.equal(metricSum(metrics, 'vigil_cpu_throttled', { flag: 'throttled' }), 1);
      assert.equal(metricSum(metrics, 'vigil_cpu_throttled', { flag: 'frequency_capped' }), 0);
      assert.equal(metricSum(metrics, 'vigil_cpu_throttled', { flag: 'throttled_occurred' }), 1);
      assert.equal(metricSum(metrics, 'vigil_sample_rate_hz'), 20);

      setTemperature(85);
      await waitFor('the rate at its floor', async () => metricSum(await scrape(port), 'vigil_sample_rate_hz') === 1 || undefined, 5000);
      metrics = await scrape(port);
      assert.equal(metricSum(metrics, 'vigil_sample_rate_limited', { reason: 'thermal' }), 1);
      // Readings really slow down: at 1 Hz consecutive readings are ~1 s apart.
      const count = readings.length;
      await waitFor('two slow readings', () => readings.length >= count + 2 || undefined, 5000);
      const last = readings.slice(-2);
      assert.ok((last[1]?.ts ?? 0) - (last[0]?.ts ?? 0) >= 800, 'readings at about 1 Hz');

      setTemperature(72);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(metricSum(await scrape(port), 'vigil_sample_rate_hz'), 1, 'holds inside the hysteresis band');
      setTemperature(50);
      await waitFor('the configured rate again', async () => metricSum(await scrape(port), 'vigil_sample_rate_hz') === 20 || undefined, 5000);
      assert.equal(metricSum(await scrape(port), 'vigil_sample_rate_limited', { reason: 'thermal' }), 0);
    } finally {
      await reader.stop();
      pull.close();
    }
  });
});
