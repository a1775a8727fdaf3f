import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { commonSchema, ConfigError, createServiceMetrics, loadConfig, redisUrlSetting, SeqTracker } from '../src/index.js';

const silent = pino({ level: 'silent' });

describe('SeqTracker', () => {
  it('counts gaps and lost messages, and refuses duplicates and late arrivals', async () => {
    const metrics = createServiceMetrics('test', '/nonexistent', silent);
    const tracker = new SeqTracker(metrics, 'test');
    assert.equal(tracker.observe('a', 10), true);
    assert.equal(tracker.observe('a', 11), true);
    assert.equal(tracker.observe('a', 11), false, 'duplicate');
    assert.equal(tracker.observe('a', 15), true);
    assert.equal(tracker.observe('a', 13), false, 'late');
    assert.equal(tracker.observe('b', 1), true, 'assets are independent');
    const text = await metrics.registry.metrics();
    assert.match(text, /vigil_seq_gaps_total\{stage="test",service="test"\} 1/);
    assert.match(text, /vigil_seq_lost_total\{stage="test",service="test"\} 3/);
  });

  it('accepts a source that restarted from scratch (seq far below the last)', () => {
    const tracker = new SeqTracker(createServiceMetrics('test', '/nonexistent', silent), 'test');
    tracker.observe('a', 5_000_000);
    assert.equal(tracker.observe('a', 1), true);
    assert.equal(tracker.observe('a', 2), true);
  });

  it('exports no CPU temperature where there is no thermal zone, rather than a false 0', async () => {
    const metrics = createServiceMetrics('test', '/nonexistent', silent);
    assert.doesNotMatch(await metrics.registry.metrics(), /vigil_cpu_temperature_celsius/);
  });
});

describe('loadConfig', () => {
  const schema = {
    port: { doc: 'a port', format: 'port', default: 8080, env: 'TEST_PORT' },
    rate: { doc: 'a rate', format: 'positive-number', default: 1, env: 'TEST_RATE' },
    names: { doc: 'names', format: 'string-list', default: ['a'], env: 'TEST_NAMES' },
    secret: { doc: 'a secret', format: String, default: '', env: 'TEST_SECRET', sensitive: true },
  };

  it('reads the environment it is given, with defaults for the rest', () => {
    const config = loadConfig(schema, {}, { TEST_PORT: '9000', TEST_NAMES: 'x, y' });
    assert.equal(config.port, 9000);
    assert.equal(config.rate, 1);
    assert.deepEqual(config.names, ['x', 'y']);
  });

  it('lists every invalid setting, not just the first', () => {
    try {
      loadConfig(schema, {}, { TEST_PORT: '99999', TEST_RATE: '-2' });
      assert.fail('invalid settings were accepted');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.problems.some((problem) => problem.includes('port')));
      assert.ok(error.problems.some((problem) => problem.includes('rate')));
    }
  });

  it('rejects unknown keys in an override', () => {
    assert.throws(() => loadConfig(schema, { prot: 1 }, {}), ConfigError);
  });

  it('refuses a device id the broker would refuse, and a mistyped URL without printing its password', () => {
    const shared = { ...commonSchema('test', 9100), redisUrl: redisUrlSetting };
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig(shared, {}, env);
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
    };
    for (const id of ['plant/line-2', 'pump+1', 'all#', 'with space']) {
      assert.match(problems({ VIGIL_DEVICE_ID: id }).join('\n'), /deviceId: must be 1-64 characters .*MQTT topic level/, id);
    }
    assert.deepEqual(problems({ VIGIL_DEVICE_ID: 'vigil-pi-7f3a2c1' }), []);
    const typo = problems({ VIGIL_REDIS_URL: 'redis://:hunter2@127.0.0.1:63x79' });
    assert.match(typo.join('\n'), /redisUrl: must be a URL such as redis:/);
    assert.doesNotMatch(typo.join('\n'), /hunter2/);
    assert.match(problems({ VIGIL_REDIS_URL: 'http://127.0.0.1:6379' }).join('\n'), /redisUrl/);
    assert.deepEqual(problems({ VIGIL_REDIS_URL: 'rediss://user:pw@redis.plant:6380/2' }), []);
  });
});
