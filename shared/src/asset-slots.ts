/**
 * A stage's per-asset state, bounded: at most `capacity` assets. Asset names come from outside
 * (an MQTT payload, a CSV, a gateway), so a stage must never grow with them. When the slots are
 * full, a new asset takes the slot of the one silent longest, if that one has been silent for
 * `idleMs`: a name seen once in a flood is gone after a while, an asset that reports keeps its
 * slot, and `pinned` assets (the ones configured) are never given up. With no idle slot the new
 * asset is refused, which the stage counts and /healthz reports (`refusedWithin`).
 */
export interface AssetSlotsOptions<T> {
  capacity: number;
  idleMs: number;
  pinned?: Iterable<string>;
  /** Called with what an evicted asset held, to save or release it. */
  onEvict?: (asset: string, value: T) => void;
  now?: () => number;
}

export class AssetSlots<T> {
  private readonly entries = new Map<string, { value: T; lastSeen: number }>();
  private readonly pinned: Set<string>;
  private readonly now: () => number;
  private lastRefusedAt = Number.NEGATIVE_INFINITY;
  /** Assets refused for want of a slot, and assets evicted, since the start. */
  refused = 0;
  evicted = 0;

  constructor(private readonly options: AssetSlotsOptions<T>) {
    this.pinned = new Set(options.pinned ?? []);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The asset's value, marking it seen. */
  get(asset: string): T | undefined {
    const entry = this.entries.get(asset);
    if (entry) entry.lastSeen = this.now();
    return entry?.value;
  }

  /** Reads without marking the asset seen (metrics, flushes). */
  peek(asset: string): T | undefined {
    return this.entries.get(asset)?.value;
  }

  has(asset: string): boolean {
    return this.entries.has(asset);
  }

  assets(): IterableIterator<string> {
    return this.entries.keys();
  }

  /**
   * Whether a new asset can be stored now: true if it is there or there is room (after evicting
   * the longest-silent idle asset if needed), false (counted) if every slot is in use.
   */
  makeRoom(asset: string): boolean {
    if (this.entries.has(asset)) return true;
    if (this.entries.size < this.options.capacity) return true;
    const now = this.now();
    let oldest: string | undefined;
    let oldestSeen = Number.POSITIVE_INFINITY;
    for (const [name, entry] of this.entries) {
      if (this.pinned.has(name)) continue;
      if (entry.lastSeen < oldestSeen) {
        oldest = name;
        oldestSeen = entry.lastSeen;
      }
    }
    // A configured asset always gets in: it takes the longest-silent slot, idle or not.
    if (oldest === undefined || (now - oldestSeen < this.options.idleMs && !this.pinned.has(asset))) {
      this.refused += 1;
      this.lastRefusedAt = now;
      return false;
    }
    this.remove(oldest);
    this.evicted += 1;
    return true;
  }

  /** Stores a value; call makeRoom first. */
  set(asset: string, value: T): void {
    this.entries.set(asset, { value, lastSeen: this.now() });
  }

  /** Gives up an asset's slot (its onEvict runs). */
  remove(asset: string): void {
    const entry = this.entries.get(asset);
    if (!entry) return;
    this.entries.delete(asset);
    this.options.onEvict?.(asset, entry.value);
  }

  /** Whether an asset was refused for want of a slot within the last `windowMs`. */
  refusedWithin(windowMs: number): boolean {
    return this.now() - this.lastRefusedAt < windowMs;
  }
}
