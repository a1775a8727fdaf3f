/**
 * The models a device has run, kept on its models volume beside the bundle in service:
 *   <models>/registry/index.json      the entries, newest last, which one is active, which is pinned
 *   <models>/registry/<id>/           a copy of each bundle, as it was when it went into service
 * The last `keep` bundles stay (never the active or the pinned one is dropped), so a bad model can
 * be rolled back and a good one pinned, without a new volume or a laptop.
 *
 * Writes are a temporary file or folder renamed into place: a power cut leaves the old index or
 * the new one, never half of one, and a half-copied bundle is never in the index.
 */
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BundleManifest } from '@vigil/shared/model';

export interface RegistryEntry {
  id: string;
  name: string;
  version: string;
  kind: string;
  /** learned: by learn mode on this device; delivered: dropped into the model folder. */
  source: 'learned' | 'delivered';
  registeredAt: string;
  /** What it learned from, as its manifest says. */
  samples: number;
}

export interface RegistryIndex {
  entries: RegistryEntry[];
  active?: string;
  pinned?: string;
  /** Versions learn mode wrote (or was about to write) on this device, newest last. */
  learned?: string[];
}

export const REGISTRY_KEEP = 5;

/** A folder name for a bundle: its name and version, in characters every filesystem takes. */
export function registryId(manifest: Pick<BundleManifest, 'name' | 'version'>): string {
  return `${manifest.name}@${manifest.version}`.replace(/[^A-Za-z0-9._@-]/g, '_');
}

export class ModelRegistry {
  readonly root: string;
  private index: RegistryIndex = { entries: [] };

  constructor(
    /** The bundle in service (the inference service's model path). */
    private readonly currentPath: string,
    private readonly keep = REGISTRY_KEEP,
  ) {
    this.root = join(dirname(currentPath), 'registry');
  }

  async open(): Promise<this> {
    await mkdir(this.root, { recursive: true });
    try {
      const parsed = JSON.parse(await readFile(join(this.root, 'index.json'), 'utf8')) as RegistryIndex;
      if (Array.isArray(parsed.entries)) this.index = parsed;
      if (!Array.isArray(parsed.learned) || !parsed.learned.every((version) => typeof version === 'string')) delete this.index.learned;
    } catch {
      // No index yet, or one a power cut cut short before its rename: start from the folders' absence.
      this.index = { entries: [] };
    }
    // Folders no index entry names: copies a crash interrupted.
    const named = new Set(this.index.entries.map((entry) => entry.id));
    for (const folder of await readdir(this.root)) {
      if (folder !== 'index.json' && !named.has(folder)) await rm(join(this.root, folder), { recursive: true, force: true });
    }
    return this;
  }

  get entries(): readonly RegistryEntry[] {
    return this.index.entries;
  }

  get active(): RegistryEntry | undefined {
    return this.index.entries.find((entry) => entry.id === this.index.active);
  }

  get pinned(): RegistryEntry | undefined {
    return this.index.entries.find((entry) => entry.id === this.index.pinned);
  }

  /** The entry registered before the active one: what a rollback goes to. */
  previous(): RegistryEntry | undefined {
    const at = this.index.entries.findIndex((entry) => entry.id === this.index.active);
    return at > 0 ? this.index.entries[at - 1] : undefined;
  }

  /** Whether learn mode on this device wrote that version (noted before it wrote the bundle). */
  wasLearned(version: string): boolean {
    return this.index.learned?.includes(version) === true || this.find(version)?.source === 'learned';
  }

  /** Notes, durably, that learn mode is about to write this version into the model folder. */
  async noteLearning(version: string): Promise<void> {
    this.index.learned = [...(this.index.learned ?? []).filter((known) => known !== version), version].slice(-this.keep);
    await this.save();
  }

  find(version: string): RegistryEntry | undefined {
    return this.index.entries.find((entry) => entry.version === version || entry.id === version);
  }

  /** The bundle now in service, as it is: copied in (once) and marked active. */
  async recordActive(manifest: BundleManifest, source: RegistryEntry['source']): Promise<RegistryEntry> {
    const entry = await this.record(manifest, source, false);
    this.index.active = entry.id;
    await this.prune();
    await this.save();
    return entry;
  }

  /** The bundle in the model folder, copied in (once) but not made active: a candidate. */
  async record(manifest: BundleManifest, source: RegistryEntry['source'], save = true): Promise<RegistryEntry> {
    const id = registryId(manifest);
    let entry = this.index.entries.find((known) => known.id === id);
    if (!entry) {
      const staging = join(this.root, `.${id}.incoming`);
      await rm(staging, { recursive: true, force: true });
      await cp(this.currentPath, staging, { recursive: true });
      await rename(staging, join(this.root, id));
      entry = { id, name: manifest.name, version: manifest.version, kind: manifest.kind, source, registeredAt: new Date().toISOString(), samples: manifest.training.samples };
      this.index.entries.push(entry);
    }
    if (save) {
      await this.prune();
      await this.save();
    }
    return entry;
  }

  /** Puts a registered bundle back into service: the model holder loads it on its next look. */
  async install(entry: RegistryEntry): Promise<void> {
    const staging = `${this.currentPath}.installing`;
    const retired = `${this.currentPath}.retired`;
    await rm(staging, { recursive: true, force: true });
    await cp(join(this.root, entry.id), staging, { recursive: true });
    await rm(retired, { recursive: true, force: true });
    await rename(this.currentPath, retired).catch(() => undefined);
    await rename(staging, this.currentPath);
    await rm(retired, { recursive: true, force: true });
  }

  async pin(entry: RegistryEntry | undefined): Promise<void> {
    if (entry) this.index.pinned = entry.id;
    else delete this.index.pinned;
    await this.save();
  }

  private async prune(): Promise<void> {
    while (this.index.entries.length > this.keep) {
      const drop = this.index.entries.find((entry) => entry.id !== this.index.active && entry.id !== this.index.pinned);
      if (!drop) return;
      this.index.entries = this.index.entries.filter((entry) => entry !== drop);
      await rm(join(this.root, drop.id), { recursive: true, force: true });
    }
  }

  private async save(): Promise<void> {
    const path = join(this.root, 'index.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(this.index, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  }
}
