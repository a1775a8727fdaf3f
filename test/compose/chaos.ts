/**
 * Chaos on the compose stack, as `npm run chaos` runs it for half an hour and test:compose for a
 * few minutes: random trouble (a stage SIGKILLed, the broker or Redis restarted, a stage paused, a
 * stage cut off the stack's network) while faults are injected into the simulated pump; then what
 * came of it: faults alerted, alerts the broker acknowledged against alerts the operator got,
 * readings made against readings delivered or counted lost, the most memory each container used.
 */
import type { SeededRandom, StageName } from '@vigil/shared/runtime';
import { STAGES } from '@vigil/shared/runtime';
import { metricSum, parsePrometheusText, type MetricSample } from '../harness/metrics.js';
import type { MqttListener } from '../harness/mqtt-listener.js';
import { run } from './docker.js';
import { OPS_PORT, type ComposeStack } from './stack.js';

export const FAULT_KINDS = ['bearing-wear', 'cavitation', 'leak'] as const;

export interface InjectedFault {
  kind: string;
  at: number;
  alertedAfterS?: number;
}

export interface ChaosReport {
  actions: number;
  troubleKinds: Record<string, number>;
  faults: InjectedFault[];
  faultsAlerted: number;
  alertsAcknowledgedByBroker: number;
  alertsReceived: number;
  alertsLost: string[];
  alertRepeats: number;
  /**
   * Readings the reader made (sent on or shed and counted), against what reached the last stage
   * and what it counted lost by seq. Read from each service every second and summed across its
   * restarts, so a kill loses at most a second of a counter, not everything since the last scrape.
   */
  readings: { made: number; shedAtReader: number; delivered: number; countedLost: number; unaccounted: number };
  /** Per stage, what it passed on, refused, and counted lost by seq: where readings went missing. */
  perStage: Record<string, { ok: number; rejected: number; seqLost: number }>;
  restarts: Record<string, number>;
  peakMemoryMib: Record<string, number>;
  oomKilled: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One counter of one service, followed across its restarts: polled straight from the service every
 * second (Prometheus inside the stack scrapes every 15 s, and a SIGKILL takes what it had not
 * scraped), a new process told apart by its start time.
 */
class CounterLedger {
  private host: string | undefined;
  private startedAt: number | undefined;
  private readonly last = new Map<string, number>();
  private readonly totals = new Map<string, number>();
  restarts = 0;

  constructor(
    private readonly stack: ComposeStack,
    readonly service: StageName,
    private readonly counters: Record<string, { name: string; labels?: Record<string, string> }>,
  ) {}

  total(key: string): number {
    return this.totals.get(key) ?? 0;
  }

  async poll(): Promise<void> {
    const samples = await this.read();
    if (!samples) return;
    const startedAt = metricSum(samples, 'process_start_time_seconds');
    const fresh = this.startedAt !== undefined && startedAt !== this.startedAt;
    if (fresh) this.restarts += 1;
    for (const [key, { name, labels }] of Object.entries(this.counters)) {
      const value = metricSum(samples, name, labels);
      const before = this.startedAt === undefined ? value : fresh ? 0 : (this.last.get(key) ?? 0);
      this.totals.set(key, this.total(key) + Math.max(0, value - before));
      this.last.set(key, value);
    }
    this.startedAt = startedAt;
  }

  /** The service's samples, or undefined while it is down, paused or cut off. */
  private async read(): Promise<MetricSample[] | undefined> {
    try {
      this.host ??= await this.stack.ipOf(this.service);
      const response = await fetch(`http://${this.host}:${OPS_PORT[this.service]}/metrics`, { signal: AbortSignal.timeout(900) });
      const samples = parsePrometheusText(await response.text()).filter((sample) => sample.labels.service === this.service);
      // A restarted container may come back on another address, and its old one go to another.
      if (samples.length === 0) this.host = undefined;
      return samples.length > 0 ? samples : undefined;
    } catch {
      this.host = undefined;
      return undefined;
    }
  }
}

export class ChaosRun {
  readonly faults: InjectedFault[] = [];
  readonly actions: Array<{ at: number; action: string }> = [];
  readonly peakMib: Record<string, number> = {};
  /** Every stage's counters, the reader's and the publisher's being what the accounting rests on. */
  private readonly ledgers: CounterLedger[];
  private readonly reader: CounterLedger;
  private readonly lastStage: CounterLedger;
  private timers: NodeJS.Timeout[] = [];
  /** When the run began: alerts the publisher raised before it (an earlier test's) are not this run's. */
  private startedAt = 0;

  constructor(
    private readonly stack: ComposeStack,
    private readonly options: {
      services: string[];
      asset: string;
      faultToken: string;
      faultS: number;
      random: SeededRandom;
      /** Which fault kind comes first (the kinds then go in turn). */
      firstKind?: number;
      /** A fault due is held back (the trouble goes on) until the asset has been quiet() this long. */
      faultWhenQuietS?: number;
    },
  ) {
    this.ledgers = STAGES.map(
      (stage) =>
        new CounterLedger(stack, stage, {
          ok: { name: 'vigil_messages_total', labels: { outcome: 'ok' } },
          shed: { name: 'vigil_messages_total', labels: { outcome: 'dropped' } },
          rejected: { name: 'vigil_messages_total', labels: { outcome: 'rejected' } },
          lost: { name: 'vigil_seq_lost_total' },
        }),
    );
    this.reader = this.ledgers[0] as CounterLedger;
    this.lastStage = this.ledgers[this.ledgers.length - 1] as CounterLedger;
  }

  private pollAll(): Promise<void> {
    return Promise.all(this.ledgers.map((ledger) => ledger.poll())).then(() => undefined);
  }

  /** Starts following the counters and the containers' memory. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    await this.pollAll();
    const every = (ms: number, work: () => Promise<void>) => {
      let busy = false;
      this.timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          void work().finally(() => (busy = false));
        }, ms),
      );
    };
    every(1_000, () => this.pollAll());
    every(30_000, () => this.sampleMemory());
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.options.random.next() * items.length)] as T;
  }

  /**
   * Whether the asset has read normal for the last `quietS` at every scrape of the stack's
   * Prometheus, with no entry into alarm between scrapes either: a fault injected while an earlier
   * fault's alarm (or its aftermath) is still open raises no alert of its own, and one within the
   * publisher's cooldown of the last entry is taken for the same episode. `detail` says what it read.
   */
  async quiet(quietS: number): Promise<{ quiet: boolean; detail: string }> {
    const selector = `{asset="${this.options.asset}"}`;
    const prometheus = await this.stack.ipOf('prometheus').catch(() => '');
    const query = async (expression: string): Promise<number | undefined> => {
      const response = await fetch(`http://${prometheus}:9090/api/v1/query?query=${encodeURIComponent(expression)}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
      const value = body.data.result[0]?.value[1];
      return value === undefined ? undefined : Number(value);
    };
    const [lowest, highest, entries] = await Promise.all([
      query(`min(min_over_time(vigil_asset_state${selector}[${quietS}s]))`),
      query(`max(max_over_time(vigil_asset_state${selector}[${quietS}s]))`),
      query(`sum(increase(vigil_anomalies_total${selector}[${quietS}s]))`),
    ]).catch(() => [undefined, undefined, undefined]);
    return { quiet: lowest === 1 && highest === 1 && (entries ?? 0) === 0, detail: `state ${lowest}..${highest}, ${entries} entries into alarm` };
  }

  /** Waits until quiet(quietS) holds, looking every 10 s; how long that took. Throws after `timeoutMs`. */
  async waitUntilQuiet(quietS: number, timeoutMs: number): Promise<number> {
    const began = Date.now();
    for (;;) {
      const { quiet, detail } = await this.quiet(quietS);
      if (quiet) return Date.now() - began;
      if (Date.now() - began > timeoutMs) throw new Error(`the pump not quiet for ${quietS} s within ${timeoutMs / 1000} s (${detail})`);
      await sleep(10_000);
    }
  }

  /**
   * The lines the stages logged since `since` that tell where an alarm went: the reader's faults,
   * inference's model and learning, the threshold's changes of state, the publisher's alerts and
   * what it held back. One line each, oldest first, with the service's name.
   */
  async stageEvents(since: number): Promise<string> {
    const telling = /fault|model|learn|state changed|new asset|alert|cooldown|missed|held|muted|rescued|outbox/i;
    const lines: Array<{ time: string; text: string }> = [];
    for (const service of ['sensor-reader', 'inference', 'adaptive-threshold', 'alert-publisher']) {
      const id = await this.stack.containerId(service).catch(() => '');
      if (!id) continue;
      const log = await run('docker', ['logs', '--since', new Date(since).toISOString(), id]).catch(() => ({ stdout: '', stderr: '' }));
      for (const line of `${log.stdout}\n${log.stderr}`.split('\n')) {
        let entry: { time?: string; msg?: string; level?: number };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (typeof entry.time !== 'string' || !telling.test(entry.msg ?? '') || (entry.level ?? 30) < 30) continue;
        lines.push({ time: entry.time, text: `${entry.time} ${service} ${line.slice(0, 400)}` });
      }
    }
    return lines.sort((a, b) => a.time.localeCompare(b.time)).map((line) => line.text).join('\n') || '(no telling lines)';
  }

  /** Injects the next fault kind for `faultS`; false (and logged) when the reader did not take it. */
  async injectFault(): Promise<boolean> {
    const kind = FAULT_KINDS[(this.faults.length + (this.options.firstKind ?? 0)) % FAULT_KINDS.length] as string;
    const reader = await this.stack.ipOf('sensor-reader').catch(() => '');
    const response = await fetch(`http://${reader}:${OPS_PORT['sensor-reader']}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.faultToken}` },
      body: JSON.stringify({ kind, durationS: this.options.faultS }),
      signal: AbortSignal.timeout(5_000),
    }).catch((error: Error) => ({ ok: false, status: 0, text: async () => error.message }));
    if (!response.ok) {
      console.log(`fault ${kind} not injected (${response.status} ${await response.text()})`);
      return false;
    }
    this.faults.push({ kind, at: Date.now() });
    console.log(`${new Date().toISOString()} fault ${kind} for ${this.options.faultS} s`);
    return true;
  }

  /** One piece of trouble, then the stack brought up again. An injected fault lives in the reader: it is not killed while one runs. */
  async trouble(): Promise<void> {
    const faultRunning = this.faults.some((fault) => Date.now() - fault.at < this.options.faultS * 1000);
    const stages = STAGES.filter((stage) => !(faultRunning && stage === 'sensor-reader'));
    const kind = this.pick(['kill', 'kill', 'restart-broker', 'restart-redis', 'pause', 'partition'] as const);
    const stage = this.pick(stages);
    const id = await this.stack.containerId(stage);
    const network = `${this.stack.project}_default`;
    let action: string;
    switch (kind) {
      case 'kill':
        action = `kill -9 ${stage}`;
        await run('docker', ['kill', id]);
        break;
      case 'restart-broker':
        action = 'restart mosquitto';
        await run('docker', ['restart', '-t', '0', await this.stack.containerId('mosquitto')]);
        break;
      case 'restart-redis':
        action = 'restart redis';
        await run('docker', ['restart', '-t', '0', await this.stack.containerId('redis')]);
        break;
      case 'pause':
        action = `pause ${stage} 15 s`;
        await run('docker', ['pause', id]);
        await sleep(15_000);
        await run('docker', ['unpause', id]);
        break;
      case 'partition':
        action = `cut ${stage} off the network for 20 s`;
        await run('docker', ['network', 'disconnect', network, id]);
        await sleep(20_000);
        // With the service's name as its alias again, as compose gave it: a pulled cable does not
        // take a machine's name off the LAN (without it the stage was unreachable by name for good).
        await run('docker', ['network', 'connect', '--alias', stage, network, id]);
        break;
    }
    this.actions.push({ at: Date.now(), action });
    console.log(`${new Date().toISOString()} ${action}`);
    // Whatever is down comes back, as the restart policy and the Pi's boot bring it.
    await this.stack.compose(['up', '-d'], 300_000);
  }

  /** Trouble every 20-40 s until `endsAt`; a fault when `nextFaultAt` says (given the last one's time; undefined: no more). */
  async runUntil(endsAt: number, nextFaultAt: (previous: number | undefined) => number | undefined): Promise<void> {
    let faultAt = nextFaultAt(undefined);
    while (Date.now() < endsAt) {
      if (faultAt !== undefined && Date.now() >= faultAt) {
        // Held back, the fault stays due and is looked at again after the next piece of trouble.
        const held = this.options.faultWhenQuietS === undefined ? undefined : await this.quiet(this.options.faultWhenQuietS);
        if (held && !held.quiet) console.log(`${new Date().toISOString()} fault held back: the pump not quiet for ${this.options.faultWhenQuietS} s (${held.detail})`);
        else faultAt = (await this.injectFault()) ? nextFaultAt(Date.now()) : Date.now() + 20_000;
      }
      await this.trouble().catch((error: Error) => console.log(`trouble failed: ${error.message.split('\n')[0] ?? ''}`));
      await sleep(20_000 + this.options.random.next() * 20_000);
    }
  }

  async sampleMemory(): Promise<void> {
    for (const [service, mib] of await this.stack.memoryMib()) {
      if (this.options.services.includes(service)) this.peakMib[service] = Math.max(this.peakMib[service] ?? 0, mib);
    }
  }

  /**
   * The trouble over: every container healthy, then quiet until each fault's alert is in (at most
   * `quietMs`) and a few seconds more for the counters; then the report.
   */
  async finish(listener: MqttListener, quietMs: number): Promise<ChaosReport> {
    await this.stack.waitAllHealthy(this.options.services, 'every container healthy at the end');
    const deadline = Date.now() + quietMs;
    while (Date.now() < deadline && this.alertTimes(listener).some((alertedAfterS) => alertedAfterS === undefined)) await sleep(2_000);
    await sleep(5_000);
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.sampleMemory();
    await this.pollAll();

    const received = this.alerts(listener);
    const receivedIds = new Set(received.map((alert) => alert.id));
    // The publisher logs each alert the broker acknowledged (PUBACK), across its restarts (docker
    // logs keeps them); those of this run only, not an earlier test's on the same stack.
    const publisherLog = await run('docker', ['logs', await this.stack.containerId('alert-publisher')]);
    const acknowledged = new Set(
      (publisherLog.stdout + publisherLog.stderr)
        .split('\n')
        .filter((line) => line.includes('"alert published"') && line.includes('"event":"raised"'))
        .map((line) => JSON.parse(line) as { id: string; time: string })
        .filter((line) => Date.parse(line.time) >= this.startedAt)
        .map((line) => line.id),
    );
    this.alertTimes(listener).forEach((alertedAfterS, index) => {
      const fault = this.faults[index];
      if (fault && alertedAfterS !== undefined) fault.alertedAfterS = alertedAfterS;
    });
    const ids = (await this.stack.compose(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean);
    const inspect = await run('docker', ['inspect', '-f', '{{.Name}} {{.State.OOMKilled}}', ...ids]);
    const made = this.reader.total('ok') + this.reader.total('shed');
    const delivered = this.lastStage.total('ok');
    const countedLost = this.lastStage.total('lost');
    return {
      actions: this.actions.length,
      troubleKinds: Object.fromEntries(
        [...new Set(this.actions.map((entry) => entry.action.split(' ').slice(0, 2).join(' ')))].map((kind) => [kind, this.actions.filter((entry) => entry.action.startsWith(kind)).length]),
      ),
      faults: this.faults,
      faultsAlerted: this.faults.filter((fault) => fault.alertedAfterS !== undefined).length,
      alertsAcknowledgedByBroker: acknowledged.size,
      alertsReceived: received.length,
      alertsLost: [...acknowledged].filter((id) => !receivedIds.has(id)),
      alertRepeats: received.length - receivedIds.size,
      readings: { made, shedAtReader: this.reader.total('shed'), delivered, countedLost, unaccounted: made - delivered - countedLost },
      perStage: Object.fromEntries(this.ledgers.map((ledger) => [ledger.service, { ok: ledger.total('ok'), rejected: ledger.total('rejected'), seqLost: ledger.total('lost') }])),
      restarts: Object.fromEntries(this.ledgers.map((ledger) => [ledger.service, ledger.restarts])),
      peakMemoryMib: this.peakMib,
      oomKilled: inspect.stdout
        .split('\n')
        .filter((line) => line.endsWith(' true'))
        .map((line) => line.split(' ')[0]?.replace(/^\//, '') ?? ''),
    };
  }

  private alerts(listener: MqttListener): Array<{ id: string; ts: number }> {
    return listener.on(`/${this.options.asset}/alert`).map((message) => JSON.parse(message.payload) as { id: string; ts: number });
  }

  /** Per injected fault, seconds to its first alert (raised within the fault or the minute after it). */
  private alertTimes(listener: MqttListener): Array<number | undefined> {
    const received = this.alerts(listener);
    return this.faults.map((fault) => {
      const first = received.find((alert) => alert.ts >= fault.at && alert.ts <= fault.at + (this.options.faultS + 60) * 1000);
      return first ? (first.ts - fault.at) / 1000 : undefined;
    });
  }
}
