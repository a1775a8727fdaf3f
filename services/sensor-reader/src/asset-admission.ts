/**
 * Which assets the reader lets in. Asset names come from the source (an MQTT payload, a CSV): each
 * new one costs a Redis key and a slot downstream, so a name is checked, and the names bounded,
 * before any of that. The configured asset (and the listed ones) always keep their slot; a name
 * silent for VIGIL_ASSET_IDLE_S gives its slot up. Each refusal is counted and logged by reason.
 */
import { AssetSlots, isValidAssetId, type RateLimitedLog, type ServiceMetrics } from '@vigil/shared/runtime';

export interface AdmissionSettings {
  asset: string;
  assets: string[];
  maxAssets: number;
  assetIdleS: number;
}

export class AssetAdmission {
  private readonly admitted: AssetSlots<true>;
  private readonly listed: Set<string>;

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly metrics: ServiceMetrics,
    private readonly rejectLog: RateLimitedLog,
    onEvict: (asset: string) => void,
  ) {
    this.admitted = new AssetSlots<true>({
      capacity: settings.maxAssets,
      idleMs: settings.assetIdleS * 1000,
      pinned: [settings.asset, ...settings.assets],
      onEvict,
    });
    this.admitted.set(settings.asset, true);
    this.listed = new Set([settings.asset, ...settings.assets]);
  }

  admit(asset: string): boolean {
    if (this.admitted.get(asset)) return true;
    if (!isValidAssetId(asset)) {
      this.metrics.countMessage('rejected', 'bad_asset');
      this.rejectLog.warn('bad_asset', { asset: JSON.stringify(asset.slice(0, 80)) }, 'asset id refused: 1-64 characters of A-Z a-z 0-9 _ . -');
      return false;
    }
    if (this.settings.assets.length > 0 && !this.listed.has(asset)) {
      this.metrics.countMessage('rejected', 'unlisted_asset');
      this.rejectLog.warn('unlisted_asset', { asset }, 'asset not in VIGIL_SENSOR_READER_ASSETS: readings refused');
      return false;
    }
    if (!this.admitted.makeRoom(asset)) {
      this.metrics.countMessage('rejected', 'too_many_assets');
      this.rejectLog.warn('too_many_assets', { asset, maxAssets: this.settings.maxAssets }, 'asset limit reached: readings of a new asset refused (VIGIL_SENSOR_READER_MAX_ASSETS)');
      return false;
    }
    this.admitted.set(asset, true);
    return true;
  }

  assets(): IterableIterator<string> {
    return this.admitted.assets();
  }

  refusedWithin(ms: number): boolean {
    return this.admitted.refusedWithin(ms);
  }
}
