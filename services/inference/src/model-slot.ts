/**
 * One model's life on the device: the bundle in service (hot-swapped), its registry (rollback,
 * pin), learn mode, and the shadow period a newcomer scores in before it is promoted. With no
 * assets file the service has one slot, shared by every asset (the detector keeps each asset's
 * memory apart); with one, each asset has its own slot, in its own folder of the models volume:
 *   <models>/<asset>/current, <models>/<asset>/registry
 */
import { basename, dirname, join } from 'node:path';
import { DEFAULT_EVIDENCE_ALARM_SETTINGS, type LevelNews } from '@vigil/shared/detection';
import { loadBundle, modelKindFor, scorerForBundle, signatureProblem, type LoadedBundle } from '@vigil/shared/model';
import { valuesPerChannel, type FeatureSpec } from '@vigil/shared/features';
import type { Counter, FeaturesMessage, Gauge, Logger, ModelRef } from '@vigil/shared/runtime';
import type { InferenceConfig } from './config.js';
import { Learner } from './learner.js';
import { ModelHolder } from './model-holder.js';
import type { ModelCommand, ModelStatus } from './model-link.js';
import { ModelRegistry, registryId } from './model-registry.js';
import { Shadow } from './shadow.js';

/** Where an asset's own model lives, beside the service's model folder. */
export function assetModelPath(modelPath: string, asset: string): string {
  return join(dirname(modelPath), asset, basename(modelPath));
}

export interface SlotScore {
  score: number;
  contributions: Record<string, number>;
  weight?: number;
  level?: LevelNews;
  model: ModelRef | undefined;
}

export interface SlotMetrics {
  modelLoads: Counter<'outcome'>;
  modelInfo: Gauge<'name' | 'version' | 'kind' | 'format' | 'asset'>;
}

const LEARNING_REF: ModelRef = { name: 'none', version: 'learning' };

export class ModelSlot {
  readonly holder: ModelHolder;
  readonly expectedFeatures: () => number;
  learner: Learner | undefined;
  private registry!: ModelRegistry;
  private shadow: Shadow | undefined;
  // An operator's rollback or pin puts its model into service at once, without a shadow period.
  private operatorInstall = false;
  private lastShadow: { version: string; outcome: 'promoted' | 'kept-as-candidate'; reason: string } | undefined;
  private lastProgressAnnounced = 0;
  private readonly zeroContributions: Record<string, number>;
  /** Set by the service: what the model topic says, now. Tells the link the status changed. */
  announce: () => void = () => undefined;
  /** The last fleet delivery, for the status (the service's delivery reports it). */
  lastDelivery: ModelStatus['lastDelivery'];

  private constructor(
    /** The asset this slot serves alone; undefined: every asset. */
    readonly asset: string | undefined,
    readonly modelPath: string,
    readonly featureSpec: FeatureSpec,
    private readonly config: InferenceConfig,
    private readonly logger: Logger,
    metrics: SlotMetrics,
  ) {
    this.holder = new ModelHolder(modelPath, logger, metrics.modelLoads, metrics.modelInfo, asset ?? '');
    this.expectedFeatures = () => this.holder.active?.bundle.inputSize ?? featureSpec.channels.length * valuesPerChannel(featureSpec.features, featureSpec.windowSize);
    this.zeroContributions = Object.fromEntries(featureSpec.channels.map((channel) => [channel, 0]));
  }

  /** Opens the slot: its registry, the bundle in its folder (or the registry's), or learn mode. */
  static async open(asset: string | undefined, modelPath: string, featureSpec: FeatureSpec, config: InferenceConfig, logger: Logger, metrics: SlotMetrics): Promise<ModelSlot> {
    const slot = new ModelSlot(asset, modelPath, featureSpec, config, asset === undefined ? logger : logger.child({ asset }), metrics);
    await slot.start();
    return slot;
  }

  private async start(): Promise<void> {
    const { config, holder: models, logger } = this;
    this.registry = await new ModelRegistry(this.modelPath, config.modelsKept).open();
    const registry = this.registry;
    models.gate = async (bundle) => {
      // A delivered bundle, on a device that trusts a fleet key, must be signed by it.
      if (config.modelPublicKey && this.sourceOf(bundle.manifest.version) === 'delivered') {
        const problem = await signatureProblem(bundle.dir, config.modelPublicKey);
        if (problem) {
          logger.error({ version: bundle.manifest.version, reason: problem, keeping: models.active?.ref }, 'model bundle refused: its signature does not hold; the running model stays');
          return 'unsigned';
        }
      }
      const pinned = registry.pinned;
      if (!pinned || pinned.id === registryId(bundle.manifest)) {
        // With a calibrated model in service, a calibrated newcomer earns its place in the shadow first.
        const candidate = scorerForBundle(bundle);
        const inService = models.active?.scorer.calibrated;
        if (config.shadowS > 0 && inService && candidate.calibrated && !this.operatorInstall) {
          this.shadow = new Shadow(bundle, candidate, inService.samplePeriodMs, DEFAULT_EVIDENCE_ALARM_SETTINGS, config.shadowS * 1000);
          logger.info({ candidate: bundle.manifest.version, inService: models.active?.ref, forS: config.shadowS }, 'a new model scores in the shadow before it is promoted');
          this.announce();
          return 'shadow';
        }
        return 'accept';
      }
      // Pinned: the newcomer is kept as a candidate, and the pinned bundle goes back in the folder.
      logger.warn({ refused: bundle.manifest.version, pinned: pinned.version }, 'a model is pinned: the new bundle is kept in the registry, not put into service');
      await registry.record(bundle.manifest, this.sourceOf(bundle.manifest.version));
      await registry.install(pinned);
      this.announce();
      return 'pinned';
    };
    models.record = async (bundle) => {
      await registry.recordActive(bundle.manifest, this.sourceOf(bundle.manifest.version));
    };
    models.onActivated = async () => {
      this.announce();
    };
    await models.reload();
    // The folder's bundle refused at start (pinned another, unsigned): the registry's active one, if any.
    const fallback = registry.pinned ?? registry.active;
    if (!models.active && fallback) {
      logger.warn({ model: fallback.version, refused: models.lastRefusal }, 'the bundle in the model folder was refused: back to the last model in service');
      await registry.install(fallback);
      await models.reload();
    }
    // Refused at start, not after minutes of collecting: features the learner could not train on.
    modelKindFor(this.featureSpec.features, config.learn.model);
    if (!models.active) {
      if ((await models.bundlePresent()) || !config.learn.enabled) {
        const reason =
          models.lastRefusal ??
          (await loadBundle(this.modelPath).then(
            () => 'it changed while loading',
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          ));
        throw new Error(`cannot load the model bundle at ${this.modelPath}${this.asset === undefined ? '' : ` (asset ${this.asset})`}: ${reason}`);
      }
      this.startLearning('no model yet');
    }
    models.watch(config.modelWatchMs);
  }

  // Learned here (learn mode notes each version in the registry before it writes it), or
  // delivered into the model folder. (The registry sits on the models volume beside the folder:
  // whoever can write one can write the other, so it is no weaker a check.)
  private sourceOf(version: string): 'learned' | 'delivered' {
    return this.registry.wasLearned(version) ? 'learned' : 'delivered';
  }

  private startLearning(why: string): void {
    const { config } = this;
    this.learner = new Learner(
      { samples: config.learn.samples, epochs: config.learn.epochs, precision: config.learn.precision, model: config.learn.model, featureSpec: this.featureSpec, modelPath: this.modelPath },
      this.logger,
      async () => {
        await this.holder.reload();
        this.announce();
      },
      (version) => this.registry.noteLearning(version),
    );
    this.logger.info({ samples: config.learn.samples, modelPath: this.modelPath, why }, 'learn mode: learning what normal looks like');
    this.announce();
  }

  /** A sample: collected while learning, scored by the model in service (and a shadow beside it). */
  async observe(message: FeaturesMessage): Promise<SlotScore> {
    const model = this.holder.active;
    const learner = this.learner;
    // Learn mode takes normal samples whether or not a model scores meanwhile (a relearn).
    if (!message.warmup && learner?.state === 'collecting') {
      learner.collect(message.features, message.ts);
      // The model topic follows the collection in tenths, not on every sample.
      if (Math.floor(learner.progress * 10) !== this.lastProgressAnnounced) {
        this.lastProgressAnnounced = Math.floor(learner.progress * 10);
        this.announce();
      }
    }
    if (message.warmup || !model) return { score: 0, contributions: this.zeroContributions, model: model?.ref };
    const scored = model.scorer.score(message.features, message.asset);
    const shadow = this.shadow;
    if (shadow) {
      shadow.observe(message.asset, message.ts, message.features, { score: scored.score, ...(scored.weight !== undefined ? { weight: scored.weight } : {}), ...(scored.level ? { level: scored.level } : {}) });
      if (shadow.due) {
        this.shadow = undefined;
        await this.concludeShadow(shadow);
      }
    }
    return { ...scored, model: model.ref };
  }

  /** The reference a score names while no model scores. */
  static readonly learningRef = LEARNING_REF;

  private async concludeShadow(ended: Shadow): Promise<void> {
    const { registry } = this;
    const { version } = ended.bundle.manifest;
    const pinned = registry.pinned;
    const { promote, reason } = pinned && pinned.id !== registryId(ended.bundle.manifest) ? { promote: false, reason: `kept as a candidate: ${pinned.version} was pinned meanwhile` } : ended.verdict();
    this.lastShadow = { version, outcome: promote ? 'promoted' : 'kept-as-candidate', reason };
    this.logger.info({ candidate: version, reason }, 'shadow period over');
    if (promote) await this.holder.activate(ended.bundle);
    else {
      // Kept for a pin or a later look; the model in service goes back in the folder for the next start.
      await registry.record(ended.bundle.manifest, this.sourceOf(version));
      if (registry.active) await registry.install(registry.active);
    }
    this.announce();
  }

  /** What the model topic says for this slot's assets. */
  status(): ModelStatus {
    const active = this.registry.active;
    const models = this.holder;
    const learner = this.learner;
    const learnState = learner?.state;
    return {
      active: active && models.active ? { name: active.name, version: active.version, kind: active.kind, source: active.source, registeredAt: active.registeredAt } : null,
      pinned: this.registry.pinned?.version ?? null,
      learn:
        learnState === 'collecting' || learnState === 'training'
          ? { state: learnState, progress: Math.min(1, learner?.progress ?? 0) }
          : learnState === 'failed'
            ? { state: 'failed', progress: 1, reason: learner?.failure ?? 'unknown' }
            : { state: 'idle', progress: 0 },
      kept: this.registry.entries.map(({ name, version, source, registeredAt, samples }) => ({ name, version, source, registeredAt, samples })),
      ...(this.lastDelivery ? { lastDelivery: this.lastDelivery } : {}),
      ...(this.shadow ? { shadow: this.shadow.report() } : {}),
      ...(this.lastShadow ? { lastShadow: this.lastShadow } : {}),
    };
  }

  /** Healthy unless learn mode failed with no model to score. */
  healthy(): boolean {
    return this.holder.active !== undefined || this.learner?.state !== 'failed';
  }

  private async operatorReload(): Promise<void> {
    this.operatorInstall = true;
    try {
      await this.holder.reload();
    } finally {
      this.operatorInstall = false;
    }
  }

  /** An operator's model command: undefined when carried out, else why it is refused. */
  async carryOut(command: ModelCommand): Promise<string | undefined> {
    const { registry, holder: models, learner } = this;
    switch (command.command) {
      case 'rollback': {
        if (registry.pinned) return `model ${registry.pinned.version} is pinned: unpin it first`;
        const previous = registry.previous();
        if (!previous) return 'no earlier model in the registry';
        await registry.install(previous);
        await this.operatorReload();
        return models.active?.ref.version === previous.version ? undefined : 'the earlier bundle could not be loaded (see the service log); the model in service is unchanged';
      }
      case 'pin': {
        const wanted = command.version === '' ? registry.active : registry.find(command.version);
        if (!wanted) return command.version === '' ? 'no model in service to pin' : `no model ${command.version} in the registry`;
        await registry.pin(wanted);
        if (registry.active?.id !== wanted.id) {
          await registry.install(wanted);
          await this.operatorReload();
        }
        this.announce();
        return undefined;
      }
      case 'unpin':
        if (!registry.pinned) return 'no model is pinned';
        await registry.pin(undefined);
        this.announce();
        return undefined;
      case 'relearn':
        if (registry.pinned) return `model ${registry.pinned.version} is pinned: unpin it first`;
        if (learner?.state === 'collecting' || learner?.state === 'training') return `learn mode is already ${learner.state}`;
        this.startLearning(`relearn asked by ${command.by || 'an operator'}`);
        return undefined;
    }
  }

  /** Stops watching the folder, after a load under way. */
  stop(): Promise<void> {
    return this.holder.stop();
  }

  get bundle(): LoadedBundle | undefined {
    return this.holder.active?.bundle;
  }
}
