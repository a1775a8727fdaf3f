/**
 * Bundles delivered to a fleet: a signed archive (npm run sign -- --archive) arriving as a retained
 * MQTT message on the fleet's topic, or found at a URL checked now and then. Each is unpacked beside
 * the model folder, its signature checked against the device's public key, and only then put in
 * the model folder, where the model holder takes it (checking the signature again, as for any
 * delivered bundle). One already in service is left alone, so the retained message, seen again at
 * every reconnect, changes nothing.
 */
import type { KeyObject } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, signatureProblem, unpackBundle } from '@vigil/shared/model';
import type { Logger } from '@vigil/shared/runtime';

export interface DeliveryReport {
  at: string;
  from: 'mqtt' | 'url';
  outcome: 'installed' | 'refused' | 'already-in-service';
  version?: string;
  reason?: string;
}

export class ModelDelivery {
  last: DeliveryReport | undefined;
  private etag: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly modelPath: string,
    private readonly publicKey: KeyObject,
    private readonly activeVersion: () => string | undefined,
    /** Called after a bundle was put into the model folder (the holder loads it), and after each report. */
    private readonly afterDelivery: (report: DeliveryReport) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** One archive at a time, in the order they came. */
  take(archive: Buffer, from: DeliveryReport['from']): Promise<void> {
    this.busy = this.busy.then(() => this.install(archive, from));
    return this.busy;
  }

  private async install(archive: Buffer, from: DeliveryReport['from']): Promise<void> {
    const staging = `${this.modelPath}.delivery`;
    const report = (outcome: DeliveryReport['outcome'], details: { version?: string; reason?: string } = {}): DeliveryReport => ({ at: new Date().toISOString(), from, outcome, ...details });
    let result: DeliveryReport;
    try {
      await unpackBundle(archive, staging);
      const problem = await signatureProblem(staging, this.publicKey);
      const manifest = JSON.parse(await readFile(join(staging, MANIFEST_FILE), 'utf8').catch(() => '{}')) as { version?: unknown };
      const version = typeof manifest.version === 'string' ? manifest.version : undefined;
      if (problem) result = report('refused', { ...(version ? { version } : {}), reason: problem });
      else if (!version) result = report('refused', { reason: `no readable ${MANIFEST_FILE}` });
      else if (version === this.activeVersion()) result = report('already-in-service', { version });
      else {
        const replaced = `${this.modelPath}.replaced`;
        await rm(replaced, { recursive: true, force: true });
        await rename(this.modelPath, replaced).catch(() => undefined);
        await rename(staging, this.modelPath);
        await rm(replaced, { recursive: true, force: true });
        result = report('installed', { version });
      }
    } catch (error) {
      result = report('refused', { reason: error instanceof Error ? error.message : String(error) });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    if (result.outcome !== 'already-in-service' || this.last?.version !== result.version) {
      (result.outcome === 'refused' ? this.logger.error.bind(this.logger) : this.logger.info.bind(this.logger))({ ...result }, 'model delivery');
    }
    this.last = result;
    await this.afterDelivery(result);
  }

  /** Checks `url` now and every `everyMs` (If-None-Match: an unchanged archive is not downloaded again). */
  watchUrl(url: string, everyMs: number): void {
    const check = async () => {
      try {
        const response = await fetch(url, { headers: this.etag ? { 'if-none-match': this.etag } : {}, signal: AbortSignal.timeout(60_000) });
        if (response.status === 304) return;
        if (!response.ok) {
          this.logger.warn({ status: response.status }, 'model delivery: the model URL did not answer with an archive');
          return;
        }
        const archive = Buffer.from(await response.arrayBuffer());
        this.etag = response.headers.get('etag') ?? undefined;
        await this.take(archive, 'url');
      } catch (error) {
        this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'model delivery: cannot reach the model URL');
      }
    };
    void check();
    this.timer = setInterval(() => void check(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
