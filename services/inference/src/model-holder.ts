/**
 * The model in service, loaded once per bundle and swapped without a restart: when the bundle
 * folder changes (a bundle dropped in, or written by learn mode), the new one is loaded and
 * validated first; a corrupt or incompatible bundle is refused with a log line and the running
 * model keeps scoring.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBundle, MANIFEST_FILE, scorerForBundle, type AnomalyScorer, type LoadedBundle } from '@vigil/shared/model';
import { type Counter, type Gauge, type Logger, type ModelRef } from '@vigil/shared/runtime';

export interface ActiveModel {
  bundle: LoadedBundle;
  scorer: AnomalyScorer;
  ref: ModelRef;
}

export class ModelHolder {
  active: ActiveModel | undefined;
  /** Asked before a new bundle goes into service: `accept`, or why not (a metric label). */
  gate: ((bundle: LoadedBundle) => Promise<'accept' | 'pinned' | 'unsigned' | 'shadow'>) | undefined;
  /** Why the last bundle was refused, for the start-up error. */
  lastRefusal: string | undefined;
  /**
   * Asked to make a bundle's coming into service durable (the registry) before it is in service:
   * a stop or a power cut after `active` changed must never leave a model running that the next
   * start does not know it ran.
   */
  record: ((bundle: LoadedBundle) => Promise<void>) | undefined;
  /** Told after a bundle went into service. */
  onActivated: ((bundle: LoadedBundle) => Promise<void>) | undefined;
  private loadedStamp = '';
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> | undefined;

  constructor(
    private readonly modelPath: string,
    private readonly logger: Logger,
    private readonly loads: Counter<'outcome'>,
    private readonly info: Gauge<'name' | 'version' | 'kind' | 'format' | 'asset'>,
    /** The asset the model serves alone, as the info metric's label; empty: every asset. */
    private readonly asset = '',
  ) {}

  /** Whether a bundle (complete or not) is present: learn mode starts only when none is. */
  async bundlePresent(): Promise<boolean> {
    return (await this.stamp()) !== '';
  }

  /** Loads the bundle if it changed since the last load. Returns whether a new model is active. */
  async reload(): Promise<boolean> {
    // One at a time: the watch timer and a command may both ask.
    while (this.reloading) await this.reloading;
    this.reloading = this.load();
    try {
      return await this.reloading;
    } finally {
      this.reloading = undefined;
    }
  }

  private async load(): Promise<boolean> {
    const stamp = await this.stamp();
    if (stamp === '' || stamp === this.loadedStamp) return false;
    this.loadedStamp = stamp;
    let bundle: LoadedBundle;
    try {
      bundle = await loadBundle(this.modelPath);
    } catch (error) {
      this.lastRefusal = error instanceof Error ? error.message : String(error);
      this.loads.inc({ outcome: 'rejected' });
      this.logger.error(
        { modelPath: this.modelPath, err: error instanceof Error ? error.message : String(error), keeping: this.active?.ref },
        'model bundle refused; the running model stays',
      );
      return false;
    }
    const previous = this.active;
    if (previous && previous.bundle.inputSize !== bundle.inputSize) {
      this.loads.inc({ outcome: 'rejected' });
      this.logger.error(
        { expected: previous.bundle.inputSize, got: bundle.inputSize },
        'model bundle refused: it expects another number of features than the pipeline sends',
      );
      return false;
    }
    const { manifest } = bundle;
    // The same model put back (a pinned one reinstalled): nothing changes, its assets keep their memory.
    if (previous && previous.ref.name === manifest.name && previous.ref.version === manifest.version) return false;
    const verdict = this.gate ? await this.gate(bundle) : 'accept';
    if (verdict !== 'accept') {
      this.loads.inc({ outcome: verdict });
      if (verdict !== 'shadow') this.lastRefusal = verdict === 'pinned' ? 'another model is pinned' : 'its signature does not hold (VIGIL_MODEL_PUBLIC_KEY)';
      return false;
    }
    await this.activate(bundle);
    return true;
  }

  /** Puts a loaded bundle into service (after its shadow period, or straight from the folder). */
  async activate(bundle: LoadedBundle): Promise<void> {
    const previous = this.active;
    const { manifest } = bundle;
    await this.record?.(bundle);
    this.active = {
      bundle,
      scorer: scorerForBundle(bundle),
      ref: { name: manifest.name, version: manifest.version },
    };
    this.loads.inc({ outcome: 'ok' });
    // Only this holder's series goes: the other assets' models are still in service.
    if (previous) this.info.remove({ name: previous.ref.name, version: previous.ref.version, kind: previous.bundle.manifest.kind, format: previous.bundle.precision, asset: this.asset });
    this.info.set({ name: manifest.name, version: manifest.version, kind: manifest.kind, format: bundle.precision, asset: this.asset }, 1);
    this.logger.info({ model: this.active.ref, replaced: previous?.ref, precision: bundle.precision, sizeBytes: bundle.sizeBytes, features: manifest.featureNames.length }, 'model loaded');
    await this.onActivated?.(bundle);
  }

  /** Checks the bundle folder for a new bundle every `intervalMs` (polling: works on every volume). */
  watch(intervalMs: number): void {
    this.timer = setInterval(() => void this.reload(), intervalMs);
  }

  /** Stops watching, and waits for a load under way (with its registry write) to end. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.reloading) await this.reloading.catch(() => undefined);
  }

  private async stamp(): Promise<string> {
    try {
      const info = await stat(join(this.modelPath, MANIFEST_FILE));
      // The bundle folder is replaced by a rename: a new inode means a new bundle.
      return `${info.ino}:${info.mtimeMs}:${info.size}`;
    } catch {
      return '';
    }
  }
}
