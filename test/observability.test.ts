/**
 * The Grafana dashboard and the Prometheus configuration, proven against a real Prometheus (the
 * Debian package; Grafana itself cannot be installed here): every PromQL expression the dashboard
 * shows must return data from a running pipeline, and every target must be up.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultDeviceId, SERVICE_ENV, SERVICE_NODE_FLAGS } from '@vigil/shared/runtime';
import { PIPELINE_ORDER, startPipeline, type PipelinePorts, type RunningPipeline } from './harness/pipeline.js';
import { freePort, waitFor } from './harness/ports.js';
import { ROOT, startProcess, type ManagedProcess } from './harness/processes.js';
import { metricSum, scrape } from './harness/metrics.js';

interface Panel {
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  fieldConfig?: { defaults?: { unit?: string; mappings?: unknown[] } };
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dashboard = JSON.parse(read('grafana/dashboards/vigil-overview.json')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: string | { query: string }; allValue?: string }> };
};
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
/** The queries as Grafana sends them with "All" devices and assets chosen. */
const expressions = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, raw: target.expr, expr: target.expr.replaceAll('$device', '.*').replaceAll('$asset', '.*') })),
);

describe('Grafana provisioning (files)', () => {
  it('every panel and query reads the datasource variable, so the dashboard works on any Prometheus', () => {
    assert.match(read('grafana/provisioning/datasources/prometheus.yml'), /type: prometheus/);
    const variables = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
    assert.equal(variables.get('datasource')?.type, 'datasource');
    assert.equal(variables.get('datasource')?.query, 'prometheus');
    assert.ok(panels.length >= 10);
    for (const panel of panels) {
      assert.equal(panel.datasource?.uid, '${datasource}', `panel "${panel.title}"`);
      assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has queries`);
      for (const target of panel.targets ?? []) assert.equal(target.datasource?.uid, '${datasource}', `a query of "${panel.title}"`);
    }
  });

  it('every query is narrowed to the chosen devices (and assets, where the metric has one)', () => {
    const variables = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
    for (const name of ['device', 'asset']) assert.equal(variables.get(name)?.allValue, '.*', `${name}: "All" matches every value`);
    for (const { panel, raw } of expressions) {
      const selectors = [...raw.matchAll(/\b(vigil_[a-z0-9_]+|process_[a-z_]+|nodejs_[a-z0-9_]+)(\{[^}]*\})?/g)];
      assert.ok(selectors.length > 0, `${panel}: ${raw}`);
      for (const [, , labels] of selectors) assert.match(labels ?? '', /device=~"\$device"/, `${panel}: ${raw}`);
    }
  });

  it('every panel says what it means and has a unit or value mapping', () => {
    for (const panel of panels) {
      assert.ok((panel.description ?? '').length > 40, `panel "${panel.title}" explains itself`);
      const defaults = panel.fieldConfig?.defaults ?? {};
      assert.ok(defaults.unit !== undefined || (defaults.mappings ?? []).length > 0, `panel "${panel.title}" has a unit`);
    }
  });

  it('the home dashboard is the provisioned one; anonymous visitors, when allowed, are Viewers only', () => {
    const dockerfile = read('grafana/Dockerfile');
    const home = /GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=(\S+)/.exec(dockerfile)?.[1] ?? '';
    assert.ok(home.startsWith('/etc/grafana/dashboards/'));
    const homeFile = JSON.parse(read(join('grafana/dashboards', home.split('/').pop() ?? ''))) as { uid: string };
    assert.equal(homeFile.uid, dashboard.uid);
    assert.match(read('grafana/provisioning/dashboards/vigil.yml'), /path: \/etc\/grafana\/dashboards/);
    assert.match(dockerfile, /COPY dashboards \/etc\/grafana\/dashboards/);
    assert.match(dockerfile, /GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer/);
    assert.doesNotMatch(dockerfile, /GF_AUTH_ANONYMOUS_ENABLED/, 'anonymous access is the entrypoint\'s, from VIGIL_GRAFANA_ANONYMOUS');
    assert.doesNotMatch(dockerfile, /GF_SECURITY_ADMIN_PASSWORD=/, 'no admin password baked into the image');
    assert.match(read('grafana/entrypoint.sh'), /GF_SECURITY_ADMIN_PASSWORD/);
  });

  it('runs the services in their images with the V8 flags and environment the tests and benchmarks measured', () => {
    const dockerfile = read('Dockerfile');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]';
    assert.deepEqual(JSON.parse(cmd), ['node', ...SERVICE_NODE_FLAGS, 'dist/main.js']);
    const runStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = Object.fromEntries([...runStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((match) => [match[1], match[2]]));
    for (const [name, value] of Object.entries(SERVICE_ENV)) assert.equal(env[name], value, `the run stage sets ENV ${name}=${value}`);
  });

  it('pins the Grafana and Prometheus image tags', () => {
    assert.match(read('grafana/Dockerfile'), /^FROM grafana\/grafana-oss:\d+\.\d+\.\d+$/m);
    assert.match(read('prometheus/Dockerfile'), /^FROM prom\/prometheus:v\d+\.\d+\.\d+$/m);
  });
});

describe('image entrypoints (run here with the image paths pointed at temporary folders)', () => {
  const run = (script: string, env: Record<string, string>) =>
    execFileSync('sh', [join(ROOT, script)], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });

  it('prometheus: retention for an SD card, and a remote_write that Prometheus accepts when its URL is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prom-entry-'));
    // Stands in for the prometheus binary: prints its flags and validates the config it was given.
    writeFileSync(
      join(dir, 'fake-prometheus'),
      '#!/bin/sh\nfor a in "$@"; do case "$a" in --config.file=*) cfg="${a#--config.file=}";; esac; done\necho "ARGS: $*"\nexec promtool check config "$cfg"\n',
      { mode: 0o755 },
    );
    const output = run('prometheus/entrypoint.sh', {
      VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'),
      VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'),
      VIGIL_PROMETHEUS_DATA: dir,
      VIGIL_REMOTE_WRITE_URL: 'https://metrics.example.test/api/v1/write',
      VIGIL_REMOTE_WRITE_USERNAME: 'fleet',
      VIGIL_REMOTE_WRITE_PASSWORD: 'secret',
    });
    assert.match(output, /--storage\.tsdb\.retention\.time=7d/);
    assert.match(output, /--storage\.tsdb\.retention\.size=512MB/);
    assert.match(output, /SUCCESS/);
    const generated = readFileSync(join(dir, 'prometheus-vigil.yml'), 'utf8');
    assert.match(generated, /remote_write:\n {2}- url: https:\/\/metrics\.example\.test\/api\/v1\/write\n {4}basic_auth:/);
    const plain = run('prometheus/entrypoint.sh', {
      VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'),
      VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'),
      VIGIL_PROMETHEUS_DATA: dir,
    });
    assert.match(plain, new RegExp(`--config.file=${join(dir, 'prometheus-vigil.yml')}`));
    assert.doesNotMatch(readFileSync(join(dir, 'prometheus-vigil.yml'), 'utf8'), /^remote_write:/m, 'no remote_write without its URL');
    assert.match(readFileSync(join(dir, 'prometheus-vigil.yml'), 'utf8'), /^ {2}scrape_interval: 15s$/m);
    // The SD card's knob: the scrape interval, which Prometheus's own check accepts.
    const slower = run('prometheus/entrypoint.sh', {
      VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'),
      VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'),
      VIGIL_PROMETHEUS_DATA: dir,
      VIGIL_PROMETHEUS_SCRAPE_INTERVAL: '30s',
    });
    assert.match(slower, /SUCCESS/);
    const generated30 = readFileSync(join(dir, 'prometheus-vigil.yml'), 'utf8');
    assert.match(generated30, /^ {2}scrape_interval: 30s$/m);
    assert.match(generated30, /^ {2}evaluation_interval: 30s$/m);
    // The shortest it takes, still within the scrape timeout; shorter is refused.
    assert.match(run('prometheus/entrypoint.sh', { VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'), VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'), VIGIL_PROMETHEUS_DATA: dir, VIGIL_PROMETHEUS_SCRAPE_INTERVAL: '5s' }), /SUCCESS/);
    assert.throws(() => run('prometheus/entrypoint.sh', { VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'), VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'), VIGIL_PROMETHEUS_DATA: dir, VIGIL_PROMETHEUS_SCRAPE_INTERVAL: '2s' }));
    assert.throws(() => run('prometheus/entrypoint.sh', { VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'), VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'), VIGIL_PROMETHEUS_DATA: dir, VIGIL_PROMETHEUS_SCRAPE_INTERVAL: 'often' }));
  });

  it('prometheus: labels every series with the device id the services work out, by the same rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prom-device-'));
    writeFileSync(join(dir, 'fake-prometheus'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const cases: Array<Record<string, string>> = [
      {},
      { BALENA_DEVICE_UUID: '7f3a2c1d9e8b4a6f' },
      { BALENA_DEVICE_UUID: '7f3a2c1d9e8b4a6f', BALENA_DEVICE_NAME_AT_INIT: 'pump house 3' },
      { VIGIL_DEVICE_ID: 'line-3.pump_a', BALENA_DEVICE_NAME_AT_INIT: 'ignored' },
    ];
    for (const env of cases) {
      run('prometheus/entrypoint.sh', { ...env, VIGIL_PROMETHEUS_BIN: join(dir, 'fake-prometheus'), VIGIL_PROMETHEUS_CONFIG: join(ROOT, 'prometheus/prometheus.yml'), VIGIL_PROMETHEUS_DATA: dir });
      const config = readFileSync(join(dir, 'prometheus-vigil.yml'), 'utf8');
      const expected = env.VIGIL_DEVICE_ID ?? defaultDeviceId(env, 'ignored-in-a-container', true);
      const labels = [...config.matchAll(/^ *device: (\S+)$/gm)].map((match) => match[1]);
      assert.deepEqual(labels, [expected, expected], JSON.stringify(env));
    }
    assert.equal(defaultDeviceId({ BALENA_DEVICE_NAME_AT_INIT: 'pump house 3' }, 'h', true), 'pump-house-3');
    assert.equal(defaultDeviceId({}, 'rig.local', false), 'rig.local', 'outside a container: the host name');
    assert.equal(defaultDeviceId({}, 'a1b2c3d4e5f6', true), 'vigil-pi', 'in a plain container: not its random host name');
  });

  it('grafana: anonymous viewing off unless VIGIL_GRAFANA_ANONYMOUS=true, which says what it exposes; anything else refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-grafana-anon-'));
    writeFileSync(join(dir, 'fake-run.sh'), '#!/bin/sh\necho "ANONYMOUS=$GF_AUTH_ANONYMOUS_ENABLED"\n', { mode: 0o755 });
    const env = { VIGIL_GRAFANA_RUN: join(dir, 'fake-run.sh'), GF_PATHS_DATA: dir, GF_SECURITY_ADMIN_PASSWORD: 'x' };
    assert.match(run('grafana/entrypoint.sh', env), /^ANONYMOUS=false$/m);
    // A GF_ variable the user set by hand does not turn it on behind the setting's back.
    assert.match(run('grafana/entrypoint.sh', { ...env, GF_AUTH_ANONYMOUS_ENABLED: 'true' }), /^ANONYMOUS=false$/m);
    const on = run('grafana/entrypoint.sh', { ...env, VIGIL_GRAFANA_ANONYMOUS: 'true' });
    assert.match(on, /^ANONYMOUS=true$/m);
    assert.match(on, /anyone who reaches port 3000 can view the dashboards and query Prometheus/);
    assert.throws(() => run('grafana/entrypoint.sh', { ...env, VIGIL_GRAFANA_ANONYMOUS: 'yes' }), /VIGIL_GRAFANA_ANONYMOUS must be true or false/);
  });

  it('grafana: no admin/admin; a password from the environment, or one generated and printed once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-grafana-entry-'));
    writeFileSync(join(dir, 'fake-run.sh'), '#!/bin/sh\necho "ADMIN=$GF_SECURITY_ADMIN_PASSWORD"\n', { mode: 0o755 });
    const env = { VIGIL_GRAFANA_RUN: join(dir, 'fake-run.sh'), GF_PATHS_DATA: dir };
    assert.match(run('grafana/entrypoint.sh', { ...env, GF_SECURITY_ADMIN_PASSWORD: 'from-env' }), /^ADMIN=from-env$/m);
    const first = run('grafana/entrypoint.sh', env);
    const generated = /shown once\): (\S+)/.exec(first)?.[1] ?? '';
    assert.ok(generated.length >= 16 && generated !== 'admin');
    assert.match(first, new RegExp(`^ADMIN=${generated}$`, 'm'));
    // Once Grafana has its database, the password in it stands and nothing is printed again.
    writeFileSync(join(dir, 'grafana.db'), '');
    const later = run('grafana/entrypoint.sh', env);
    assert.doesNotMatch(later, /shown once/);
    assert.doesNotMatch(later, /^ADMIN=(admin)?$/m);
  });
});

describe('dashboard queries against a real Prometheus scraping a running pipeline', { timeout: 240_000 }, () => {
  let pipeline: RunningPipeline;
  let prometheus: ManagedProcess;
  let prometheusUrl: string;
  let ports: PipelinePorts;

  before(async () => {
    // A Pi's sysfs, written by the test: CPU temperature and the firmware's throttle flags.
    const sysfs = mkdtempSync(join(tmpdir(), 'vigil-sysfs-'));
    mkdirSync(join(sysfs, 'class/thermal/thermal_zone0'), { recursive: true });
    mkdirSync(join(sysfs, 'devices/platform/soc/soc:firmware'), { recursive: true });
    writeFileSync(join(sysfs, 'class/thermal/thermal_zone0/temp'), '58312\n');
    writeFileSync(join(sysfs, 'devices/platform/soc/soc:firmware/get_throttled'), '0x0\n');
    pipeline = await startPipeline({
      deviceId: 'observed',
      everyServiceEnv: { VIGIL_SYSFS_ROOT: sysfs },
      readerEnv: {
        VIGIL_SENSOR_READER_SIM_SPEED: '50',
        VIGIL_SENSOR_READER_SIM_SEED: '99',
        VIGIL_SENSOR_READER_SIM_FAULTS: 'bearing-wear@400+60',
        VIGIL_SENSOR_READER_SIM_MAX_SAMPLES: '5000',
      },
    });
    ports = pipeline.ports;

    // The project's own scrape configuration, with only the targets pointed at the test's ports.
    const promPort = await freePort();
    let config = read('prometheus/prometheus.yml');
    for (const name of PIPELINE_ORDER) config = config.replace(new RegExp(`${name}:\\d+`), `127.0.0.1:${ports.metrics[name]}`);
    config = config.replace('localhost:9090', `127.0.0.1:${promPort}`);
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), config);
    prometheus = startProcess('prometheus', 'prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--storage.tsdb.retention.time=7d',
      '--storage.tsdb.retention.size=512MB',
      '--storage.tsdb.wal-compression',
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    prometheusUrl = `http://127.0.0.1:${promPort}`;
    await waitFor('prometheus ready', async () => (await fetch(`${prometheusUrl}/-/ready`)).ok || undefined, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${prometheus.text()}`);
    });
    await waitFor(
      'the alert to be published',
      async () => metricSum(await scrape(ports.metrics['alert-publisher']), 'vigil_alerts_published_total') >= 1 || undefined,
      60_000,
      250,
    );
  });

  after(async () => {
    await prometheus?.stop();
    await pipeline?.stop();
  });

  async function query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data?.result ?? [];
  }

  it('scrapes every service: all targets up', async () => {
    const targets = await waitFor(
      'every target up',
      async () => {
        const response = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as {
          data: { activeTargets: Array<{ health: string; scrapeUrl: string }> };
        };
        const active = response.data.activeTargets;
        return active.length === PIPELINE_ORDER.length + 1 && active.every((target) => target.health === 'up') ? active : undefined;
      },
      30_000,
      500,
    );
    assert.equal(targets.length, 6);
  });

  it('answers every PromQL expression of the dashboard with data', async () => {
    assert.ok(expressions.length >= 25, `${expressions.length} expressions`);
    // rate() over [1m] needs two scrapes 5 s apart in the window: wait for them, then ask each.
    const empty = await waitFor(
      'data for every expression',
      async () => {
        const missing: string[] = [];
        for (const { panel, expr } of expressions) if ((await query(expr)).length === 0) missing.push(`${panel}: ${expr}`);
        return missing.length === 0 ? [] : undefined;
      },
      60_000,
      2_000,
    ).catch(async () => {
      const missing: string[] = [];
      for (const { panel, expr } of expressions) if ((await query(expr)).length === 0) missing.push(`${panel}: ${expr}`);
      return missing;
    });
    assert.deepEqual(empty, [], 'expressions without data');
    // The scrape config puts the device on every series (entrypoint.sh writes in the real id).
    assert.ok((await query('vigil_messages_total{device="vigil-pi"}')).length > 0, 'series carry the device label');
    const temperature = (await query('max(vigil_cpu_temperature_celsius)')) as Array<{ value: [number, string] }>;
    assert.equal(Number(temperature[0]?.value[1]), 58.312);
  });
});
