/**
 * Several machines on one device: the assets file says, per asset, which channels it has and how
 * its features are built. Each asset then gets its own scaler (preprocessor), its own model,
 * registry and learn mode (inference) and its own threshold state, and a source may name only
 * these assets. With no file, every asset shares the services' own feature settings and one model.
 *
 *   {
 *     "pump-1": { "channels": ["vibration_rms", "motor_current", "discharge_pressure"] },
 *     "fan-2":  { "channels": ["current", "bearing_temp"], "windowSize": 20, "limits": ["current:0:40"] }
 *   }
 *
 * Given as a file (VIGIL_ASSETS_FILE, JSON or YAML, baked into the image or on a volume) or inline
 * (VIGIL_ASSETS, the same JSON: a balenaCloud fleet variable). Every mistake is one line naming
 * the asset, the key and what it should be.
 */
import { parseLimits, type PhysicalLimits } from './features/reading-cleaner.js';
import { isWindowFeature, WINDOW_FEATURES, type WindowFeature } from './features/window-features.js';
import type { FeatureSpec } from './features/feature-pipeline.js';
import { isValidAssetId } from './messages.js';
import { readSettingsFile } from './settings-file.js';

/** One asset's entry: channels, and what it sets apart from the service's own feature settings. */
export interface AssetSpec {
  channels: string[];
  features?: WindowFeature[];
  windowSize?: number;
  scalerWarmup?: number;
  /** channel:min:max, over the service's own limits for the same channel names. */
  limits?: string[];
}

/** An asset file holds at most this many: each asset costs a model, a scaler and metric labels. */
export const MAX_FILE_ASSETS = 100;

const KEYS = ['channels', 'features', 'windowSize', 'scalerWarmup', 'limits'] as const;

export const assetsSchema = {
  assetsFile: {
    doc: 'JSON or YAML (.yaml, .yml) file of the assets this device watches, each with its own channels (and optionally features, windowSize, scalerWarmup, limits): each gets its own scaler, model, learn mode and threshold, and readings of other assets are refused. Empty: every asset shares the feature settings and one model. See docs/assets.md.',
    format: String,
    default: '',
    env: 'VIGIL_ASSETS_FILE',
  },
  assetsJson: {
    doc: 'The assets file\'s JSON inline (for a fleet variable); used when VIGIL_ASSETS_FILE is empty.',
    format: String,
    default: '',
    env: 'VIGIL_ASSETS',
  },
};

/** The assets a device's settings name: empty when neither VIGIL_ASSETS_FILE nor VIGIL_ASSETS is set. */
export function assetSpecsOf(settings: { assetsFile: string; assetsJson: string }): Map<string, AssetSpec> {
  if (settings.assetsFile !== '') return checkAssetSpecs(readSettingsFile(settings.assetsFile, 'VIGIL_ASSETS_FILE'), `VIGIL_ASSETS_FILE (${settings.assetsFile})`);
  return settings.assetsJson.trim() === '' ? new Map() : parseAssetSpecs(settings.assetsJson, 'VIGIL_ASSETS');
}

/** Parses and checks an assets document; throws one line naming the first mistake. */
export function parseAssetSpecs(text: string, source: string): Map<string, AssetSpec> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return checkAssetSpecs(document, source);
}

/** Checks a parsed assets document; throws one line naming the first mistake. */
export function checkAssetSpecs(document: unknown, source: string): Map<string, AssetSpec> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new Error(`${source}: must be a JSON object of asset id → {"channels": [...]}`);
  }
  const entries = Object.entries(document as Record<string, unknown>);
  if (entries.length === 0) throw new Error(`${source}: names no asset; leave the setting empty to use the services' own feature settings`);
  if (entries.length > MAX_FILE_ASSETS) throw new Error(`${source}: ${entries.length} assets, at most ${MAX_FILE_ASSETS}`);
  const specs = new Map<string, AssetSpec>();
  for (const [asset, value] of entries) {
    const where = `${source}: asset "${asset.slice(0, 64)}"`;
    if (!isValidAssetId(asset)) throw new Error(`${where}: an asset id is 1-64 characters of A-Z a-z 0-9 _ . - (it is an MQTT topic level)`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: must be an object with "channels"`);
    const fields = value as Record<string, unknown>;
    const unknown = Object.keys(fields).find((key) => !(KEYS as readonly string[]).includes(key));
    if (unknown !== undefined) throw new Error(`${where}: unknown key "${unknown.slice(0, 64)}" (known: ${KEYS.join(', ')})`);
    const { channels, features, windowSize, scalerWarmup, limits } = fields;
    if (!isNameList(channels) || channels.length === 0 || new Set(channels).size !== channels.length) {
      throw new Error(`${where}: "channels" must be a non-empty list of distinct channel names`);
    }
    const spec: AssetSpec = { channels };
    if (features !== undefined) {
      if (!Array.isArray(features) || features.length === 0 || !features.every(isWindowFeature)) {
        throw new Error(`${where}: "features" must be a non-empty list of ${WINDOW_FEATURES.join(', ')}`);
      }
      spec.features = features;
    }
    if (windowSize !== undefined) spec.windowSize = positiveInt(windowSize, `${where}: "windowSize"`);
    if (scalerWarmup !== undefined) spec.scalerWarmup = positiveInt(scalerWarmup, `${where}: "scalerWarmup"`);
    if (limits !== undefined) {
      if (!isNameList(limits)) throw new Error(`${where}: "limits" must be a list of "channel:min:max"`);
      let parsed: Record<string, PhysicalLimits>;
      try {
        parsed = parseLimits(limits);
      } catch (error) {
        throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const stray = Object.keys(parsed).find((channel) => !channels.includes(channel));
      if (stray !== undefined) throw new Error(`${where}: a limit for "${stray.slice(0, 64)}", which is not one of its channels`);
      spec.limits = limits;
    }
    specs.set(asset, spec);
  }
  return specs;
}

/** The asset's feature spec: its entry over the service's own settings. */
export function assetFeatureSpec(base: FeatureSpec, spec: AssetSpec): FeatureSpec {
  return {
    channels: [...spec.channels],
    features: spec.features ? [...spec.features] : [...base.features],
    windowSize: spec.windowSize ?? base.windowSize,
    scalerWarmup: spec.scalerWarmup ?? base.scalerWarmup,
  };
}

/** The asset's physical limits: the service's own for its channels, its entry's over them. */
export function assetLimits(base: Record<string, PhysicalLimits>, spec: AssetSpec): Record<string, PhysicalLimits> {
  const own = Object.fromEntries(Object.entries(base).filter(([channel]) => spec.channels.includes(channel)));
  return { ...own, ...(spec.limits ? parseLimits(spec.limits) : {}) };
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '' && item.length <= 128);
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${what} must be a whole number ≥ 1`);
  return value;
}
