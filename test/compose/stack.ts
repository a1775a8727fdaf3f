/**
 * The compose stack as the Docker tests and `npm run chaos` drive it: docker-compose.yml as shipped
 * plus one override file, under a project name of its own, with what both need to look inside it
 * (containers, their addresses and health, the services' metrics) and to cut its power.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAGES, TOPOLOGY, type StageName } from '@vigil/shared/runtime';
import { scrape } from '../harness/metrics.js';
import { waitFor } from '../harness/ports.js';
import { ROOT, run } from './docker.js';

export const OPS_PORT = Object.fromEntries(STAGES.map((stage) => [stage, TOPOLOGY[stage].opsPort])) as Record<StageName, number>;

/** Each service's mem_limit in docker-compose.yml as shipped, in MiB. */
export function composeMemoryLimits(): Record<string, number> {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  return Object.fromEntries(
    text
      .split(/\n  (?=[a-z-]+:\n)/)
      .map((section) => [/^([a-z-]+):/.exec(section)?.[1], /\n    mem_limit: (\d+)m/.exec(section)?.[1]] as const)
      .filter((pair): pair is readonly [string, string] => pair[0] !== undefined && pair[1] !== undefined)
      .map(([name, mib]) => [name, Number(mib)]),
  );
}

export class ComposeStack {
  private readonly files: string[];

  constructor(
    readonly project: string,
    /** Where the override file is written (a log folder of the run). */
    folder: string,
    override: string,
  ) {
    const path = join(folder, 'docker-compose.override.yml');
    writeFileSync(path, override);
    this.files = ['-f', join(ROOT, 'docker-compose.yml'), '-f', path];
  }

  compose(args: string[], timeoutMs = 120_000) {
    return run('docker-compose', ['-p', this.project, ...this.files, ...args], { timeoutMs });
  }

  /** The arguments docker-compose takes before its command, for a long logged run. */
  composeArgs(): string[] {
    return ['-p', this.project, ...this.files];
  }

  async containerId(service: string): Promise<string> {
    const id = (await this.compose(['ps', '-q', service])).stdout.trim();
    if (!id) throw new Error(`no container for ${service}`);
    return id;
  }

  async ipOf(service: string): Promise<string> {
    const id = await this.containerId(service);
    return (await run('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
  }

  async healthOf(service: string): Promise<string> {
    const id = await this.containerId(service);
    return (await run('docker', ['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', id])).stdout.trim();
  }

  async serviceMetrics(service: StageName) {
    return scrape(OPS_PORT[service], await this.ipOf(service));
  }

  /** Memory each running container of this stack uses now, in MiB, by service (docker stats). */
  async memoryMib(): Promise<Map<string, number>> {
    const { stdout } = await run('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}'], { allowFailure: true });
    const usage = new Map<string, number>();
    for (const line of stdout.trim().split('\n')) {
      const [name = '', text = ''] = line.split('\t');
      if (!name.startsWith(`${this.project}_`)) continue;
      const [amount = '0', unit = 'MiB'] = /([\d.]+)\s*([KMG]i?B)/.exec(text)?.slice(1) ?? [];
      const mib = Number(amount) * (({ KiB: 1 / 1024, MiB: 1, GiB: 1024, kB: 1 / 1000, MB: 1, GB: 1000 } as Record<string, number>)[unit] ?? 1);
      usage.set(name.replace(`${this.project}_`, '').replace(/_\d+$/, ''), mib);
    }
    return usage;
  }

  async dumpLogs(): Promise<void> {
    const output = await this.compose(['logs', '--no-color', '--tail', '40']).catch((error: Error) => ({ stdout: error.message }));
    console.error(output.stdout);
  }

  async waitAllHealthy(services: string[], what: string): Promise<void> {
    await waitFor(
      what,
      async () => {
        const states = await Promise.all(services.map(async (service) => [service, await this.healthOf(service).catch(() => 'gone')] as const));
        return states.every(([, state]) => state === 'healthy') || undefined;
      },
      180_000,
      2000,
    ).catch(async (error: Error) => {
      await this.dumpLogs();
      throw error;
    });
  }

  /**
   * A power cut, as near as a test gets to one: every container of the stack SIGKILLed at once (no
   * graceful stop, nothing flushed), then the stack started again as the Pi's boot would.
   * Returns when it was cut.
   */
  async powerCut(services: string[]): Promise<number> {
    const ids = (await this.compose(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean);
    await run('docker', ['kill', ...ids]);
    const cutAt = Date.now();
    await this.compose(['up', '-d'], 300_000);
    await this.waitAllHealthy(services, 'every container healthy after the power cut');
    console.log(`power cut: ${ids.length} containers killed at once, all healthy again ${((Date.now() - cutAt) / 1000).toFixed(1)} s later`);
    return cutAt;
  }
}
