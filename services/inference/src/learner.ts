/**
 * Learn mode: with no model yet, the inference service collects feature vectors of the machine
 * running normally, trains a model in a child process (TensorFlow.js never enters this process,
 * so its memory stays small), and the model holder picks the bundle up without a restart.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelKindFor, type ModelChoice, type ModelPrecision } from '@vigil/shared/model';
import { type FeatureSpec } from '@vigil/shared/features';
import { type Logger } from '@vigil/shared/runtime';

export interface LearnSettings {
  samples: number;
  epochs: number;
  precision: ModelPrecision;
  /** auto: the default detector (conv autoencoder on series); autoencoder: dense, or conv on series. */
  model: ModelChoice;
  featureSpec: FeatureSpec;
  modelPath: string;
}

export type LearnState = 'collecting' | 'training' | 'done' | 'failed';

export class Learner {
  private readonly collected: number[][] = [];
  private readonly times: number[] = [];
  state: LearnState = 'collecting';
  /** Why training failed, when it did. */
  failure: string | undefined;

  constructor(
    private readonly settings: LearnSettings,
    private readonly logger: Logger,
    private readonly onTrained: () => Promise<void>,
    /** Told the version before the worker writes the bundle: so it is known as learned here even if the power goes before it is loaded. */
    private readonly onVersion: (version: string) => Promise<void> = async () => undefined,
  ) {}

  get progress(): number {
    return this.collected.length / this.settings.samples;
  }

  /** Takes one feature vector of normal operation at sensor time `ts`; starts training once enough are in. */
  collect(features: number[], ts: number): void {
    if (this.state !== 'collecting') return;
    this.collected.push(features);
    this.times.push(ts);
    if (this.collected.length >= this.settings.samples) void this.train();
  }

  private async train(): Promise<void> {
    this.state = 'training';
    this.logger.info({ samples: this.collected.length }, 'learn mode: training the model in a child process');
    // Scratch space beside the model, on its volume: the container's root filesystem is read-only
    // and a RAM-backed /tmp would cost a 1 GB Pi memory for the job file.
    const scratch = join(dirname(this.settings.modelPath), '.learn-scratch');
    await mkdir(scratch, { recursive: true });
    const dir = await mkdtemp(join(scratch, 'job-'));
    try {
      const jobPath = join(dir, 'job.json');
      const version = new Date().toISOString();
      await this.onVersion(version);
      const kind = modelKindFor(this.settings.featureSpec.features, this.settings.model);
      const networkless = kind === 'isolation-forest' || kind === 'auto-detector';
      await writeFile(
        jobPath,
        JSON.stringify({
          features: this.collected,
          timestamps: this.times,
          featureSpec: this.settings.featureSpec,
          outDir: this.settings.modelPath,
          name: { 'auto-detector': 'learned-detector', 'conv-autoencoder': 'learned-conv-ae', 'dense-autoencoder': 'learned-dense-ae', 'isolation-forest': 'learned-iforest' }[kind],
          version,
          epochs: this.settings.epochs,
          precision: networkless ? 'fp32' : this.settings.precision,
          kind,
        }),
      );
      this.collected.length = 0;
      this.times.length = 0;
      this.logger.info({ result: await runLearnWorker(jobPath) }, 'learn mode: model trained');
      this.state = 'done';
      await this.onTrained();
    } catch (error) {
      this.state = 'failed';
      this.failure = error instanceof Error ? error.message.slice(0, 300) : String(error);
      this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'learn mode: training failed; restart to try again');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Trains in a child process (learn-worker); resolves with the worker's last output line. */
export function runLearnWorker(jobPath: string): Promise<string> {
  // Training is tooling, not serving: its code lives in training/ and runs apart, in a child
  // process. The build ships it beside the service's bundle as learn-worker.js; run from source
  // (tests), it is training/src/learn-worker.ts.
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const worker = fromSource ? fileURLToPath(new URL('../../../training/src/learn-worker.ts', import.meta.url)) : join(here, '..', 'learn-worker.js');
  const args = fromSource ? ['--import', 'tsx', worker, jobPath] : [worker, jobPath];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(output.trim().split('\n').at(-1) ?? '');
      else reject(new Error(`learn worker exited ${code}: ${output.slice(-500)}`));
    });
  });
}
