import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelsAffectedBy, parseFaultSchedule } from '../src/faults.js';
import { PUMP_CHANNELS, PumpSimulator, type PumpChannel } from '../src/pump-simulator.js';

function meanOf(simulator: PumpSimulator, samples: number, channel: PumpChannel): number {
  let sum = 0;
  for (let i = 0; i < samples; i += 1) sum += simulator.next()[channel];
  return sum / samples;
}

describe('fault schedule', () => {
  it('parses kinds, channels, start and duration, and names a bad entry', () => {
    assert.deepEqual(parseFaultSchedule('bearing-wear@60+120, sensor-stuck:flow@300.5+30'), [
      { kind: 'bearing-wear', startS: 60, durationS: 120 },
      { kind: 'sensor-stuck', startS: 300.5, durationS: 30, channel: 'flow' },
    ]);
    assert.deepEqual(parseFaultSchedule(''), []);
    assert.throws(() => parseFaultSchedule('meltdown@1+1'), /meltdown@1\+1.*unknown kind/);
    assert.throws(() => parseFaultSchedule('leak@soon'), /leak@soon/);
  });
});

describe('pump simulator', () => {
  it('is repeatable under a seed and produces all eight channels', () => {
    const a = new PumpSimulator({ seed: 5, rateHz: 10 });
    const b = new PumpSimulator({ seed: 5, rateHz: 10 });
    for (let i = 0; i < 100; i += 1) assert.deepEqual(a.next(), b.next());
    assert.deepEqual(Object.keys(a.next()).sort(), [...PUMP_CHANNELS].sort());
  });

  it('keeps its channels correlated through the load: current and flow rise together', () => {
    const simulator = new PumpSimulator({ seed: 1, rateHz: 10 });
    const readings = Array.from({ length: 1200 }, () => simulator.next());
    const correlation = (a: number[], b: number[]) => {
      const ma = a.reduce((s, v) => s + v, 0) / a.length;
      const mb = b.reduce((s, v) => s + v, 0) / b.length;
      let cov = 0;
      let va = 0;
      let vb = 0;
      a.forEach((value, i) => {
        cov += (value - ma) * ((b[i] as number) - mb);
        va += (value - ma) ** 2;
        vb += ((b[i] as number) - mb) ** 2;
      });
      return cov / Math.sqrt(va * vb);
    };
    assert.ok(correlation(readings.map((r) => r.current), readings.map((r) => r.flow)) > 0.5);
  });

  it('moves the channels each fault is said to move', () => {
    const normal = new PumpSimulator({ seed: 2, rateHz: 10 });
    const worn = new PumpSimulator({ seed: 2, rateHz: 10 });
    worn.addFault({ kind: 'bearing-wear', startS: 0, durationS: 1000 });
    meanOf(normal, 200, 'vibration1');
    meanOf(worn, 200, 'vibration1');
    assert.ok(meanOf(worn, 300, 'vibration1') > meanOf(normal, 300, 'vibration1') + 0.01);
    assert.ok(channelsAffectedBy({ kind: 'bearing-wear' }).includes('vibration1'));

    const leaking = new PumpSimulator({ seed: 2, rateHz: 10 });
    const reference = new PumpSimulator({ seed: 2, rateHz: 10 });
    leaking.addFault({ kind: 'leak', startS: 0, durationS: 1000 });
    assert.ok(meanOf(leaking, 300, 'pressure') < meanOf(reference, 300, 'pressure') - 0.1);
  });

  it('a stuck sensor repeats one value; the fault ends on time', () => {
    const simulator = new PumpSimulator({ seed: 3, rateHz: 10 });
    simulator.addFault({ kind: 'sensor-stuck', startS: 1, durationS: 2, channel: 'flow' });
    const flows = Array.from({ length: 40 }, () => simulator.next().flow);
    assert.equal(new Set(flows.slice(10, 30)).size, 1);
    assert.equal(new Set(flows.slice(30)).size, 10);
    assert.equal(simulator.activeFaults().length, 0);
  });
});
