import { performance } from 'node:perf_hooks';
import { CuratorError, type AnalysisTask, type JobType, type LoadedModel } from '@curator/contracts';
import { resolveExecutionProviders, sessionOptionsFor, type DeviceChoice, type DeviceRequest, type ModelSessionConfig } from '@curator/inference';
import { resolveAvailableModel, checkModels, type ModelOverrides, type ModelRole, type ModelSet, type ResolvedModel } from '@curator/models';
import { Classifier } from '@curator/classifier';
import { ImageGenerator } from '@curator/diffusion';
import { TextGenerator } from '@curator/textgen';
import type { Logger, WorkerMetrics } from '@curator/telemetry';
import { jobTypesForPool, type Pool } from '@curator/queue';

/** Models each job type needs in the pool that runs it. */
export const rolesForJobType: Record<JobType, ModelRole[]> = {
  classify: ['sentiment', 'genre'],
  summarize: ['summarizer'],
  headline: ['headline'],
  'text-to-image': ['image'],
  curate: ['sentiment', 'genre', 'summarizer', 'headline'],
};

interface Hosted {
  role: ModelRole;
  model: ResolvedModel;
  loadMs: number;
  warmupMs: number | null;
  busyMs: () => number;
  close(): Promise<void>;
}

export interface ModelHostOptions {
  pools: Pool[];
  /** Job types this build runs; others are not loaded for. */
  jobTypes: readonly JobType[];
  modelsDir: string;
  set: ModelSet;
  /** CURATOR_MODEL_* and CURATOR_MODELS_MANIFEST, interpreted once by the caller. */
  overrides: ModelOverrides;
  device: DeviceRequest;
  deviceId: number;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Micro-batching of the text generators (BATCH_MAX_SIZE, BATCH_MAX_DELAY_MS). */
  batching: { maxBatchSize: number; maxDelayMs: number };
  /** CURATOR_PRECISION: `auto` lets the device choose. */
  precision?: 'auto' | 'fp32' | 'fp16' | 'int8';
  /** CURATOR_SESSION_OPTIONS: per role, `*` for all. */
  sessionOptions?: Partial<Record<ModelRole | '*', ModelSessionConfig>>;
  /** What a text goes through before the BERTweet sentiment model (SENTIMENT_PREPROCESSING; default pysentimiento). */
  sentimentPreprocessing?: 'pysentimiento' | 'huggingface';
}

/**
 * Holds each model once per worker process, whatever the concurrency: every model runs in one
 * inference thread that all of the process's jobs share (several copies would waste GPU memory).
 */
export class ModelHost {
  readonly device: DeviceChoice;
  readonly jobTypes: JobType[];
  private readonly hosted = new Map<ModelRole, Hosted>();
  private readonly classifiers = new Map<AnalysisTask, Classifier>();
  private imageGenerator: ImageGenerator | null = null;
  private readonly textGenerators = new Map<'summarizer' | 'headline', TextGenerator>();
  private readonly batching: { maxBatchSize: number; maxDelayMs: number };

  private constructor(device: DeviceChoice, jobTypes: JobType[], batching: { maxBatchSize: number; maxDelayMs: number }) {
    this.device = device;
    this.jobTypes = jobTypes;
    this.batching = batching;
  }

  static async load(options: ModelHostOptions): Promise<ModelHost> {
    const { logger, metrics } = options;
    const jobTypes = options.pools.flatMap((pool) => jobTypesForPool(pool)).filter((type) => options.jobTypes.includes(type));
    const roles = [...new Set(jobTypes.flatMap((type) => rolesForJobType[type]))];
    const check = await checkModels({ modelsDir: options.modelsDir, set: options.set, roles, overrides: options.overrides });
    if (check.missing.length > 0) {
      throw new CuratorError(
        'model_missing',
        `Models missing in ${options.modelsDir}: ${check.missing.map((m) => `${m.role} (${m.id}: ${m.files.join(', ')})`).join('; ')}. ` +
          `Fetch them with \`npm run curator -- models pull\`, or run on the generated test models with CURATOR_MODELS=test.`,
      );
    }
    const device = await resolveExecutionProviders({
      device: options.device,
      deviceId: options.deviceId,
      log: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
    });
    const host = new ModelHost(device, jobTypes, options.batching);
    try {
      for (const role of roles) await host.loadRole(role, options);
    } catch (error) {
      await host.close();
      throw error;
    }
    for (const hosted of host.hosted.values()) {
      const labels = { role: hosted.role, model: hosted.model.id, device: device.device };
      metrics.modelLoadSeconds.set(labels, hosted.loadMs / 1000);
      if (hosted.warmupMs !== null) metrics.modelWarmupSeconds.set(labels, hosted.warmupMs / 1000);
    }
    return host;
  }

  private async loadRole(role: ModelRole, options: ModelHostOptions): Promise<void> {
    // The configured precision, or the device's preferred one, where its files are on disk; else what is there.
    const wanted = !options.precision || options.precision === 'auto' ? this.device.preferredPrecision : options.precision;
    const model = await resolveAvailableModel(role, { modelsDir: options.modelsDir, set: options.set, precision: wanted, overrides: options.overrides });
    if (!model) throw new CuratorError('model_missing', `No complete ${role} model in ${options.modelsDir}`);
    const { executionProviders: _providers, ...sessionOptions } = sessionOptionsFor({ ...options.sessionOptions?.['*'], ...options.sessionOptions?.[role] }, this.device);
    const onLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => options.logger[level]({ role, model: model.id, ...fields }, message);
    const started = performance.now();
    switch (role) {
      case 'sentiment':
      case 'genre': {
        const classifier = await Classifier.load({
          modelDir: model.dir,
          modelId: model.id,
          task: role,
          ...(role === 'sentiment' && options.sentimentPreprocessing ? { preprocessing: options.sentimentPreprocessing } : {}),
          precision: model.precision === 'fp16' ? 'fp16' : model.precision === 'int8' ? 'int8' : 'fp32',
          executionProviders: [...this.device.executionProviders],
          sessionOptions,
          onLog,
        });
        const loadMs = performance.now() - started;
        const warmupMs = await classifier.warmup();
        this.classifiers.set(role, classifier);
        this.hosted.set(role, { role, model, loadMs, warmupMs, busyMs: () => classifier.stats().busyMs, close: () => classifier.close() });
        break;
      }
      case 'summarizer':
      case 'headline': {
        const generator = await TextGenerator.load({
          modelDir: model.dir,
          modelId: model.id,
          precision: model.precision === 'fp16' ? 'fp16' : model.precision === 'int8' ? 'int8' : 'fp32',
          executionProviders: [...this.device.executionProviders],
          sessionOptions,
          batching: this.batching,
          onLog,
        });
        const loadMs = performance.now() - started;
        const { warmupMs } = await generator.warmup();
        this.textGenerators.set(role, generator);
        this.hosted.set(role, { role, model, loadMs, warmupMs, busyMs: () => generator.stats().busyMs, close: () => generator.close() });
        break;
      }
      case 'image': {
        const generator = await ImageGenerator.load({
          modelDir: model.dir,
          modelId: model.id,
          precision: model.precision === 'fp16' ? 'fp16' : 'fp32',
          executionProviders: [...this.device.executionProviders] as string[],
          sessionOptions,
          onLog,
        });
        const loadMs = performance.now() - started;
        const warmupMs = await generator.warmup();
        this.imageGenerator = generator;
        this.hosted.set(role, { role, model, loadMs, warmupMs, busyMs: () => generator.stats().busyMs, close: () => generator.close() });
        break;
      }
      default:
        throw new CuratorError('not_implemented', `No engine for the ${role} model in this version`);
    }
    options.logger.info({ role, model: model.id, precision: model.precision, device: this.device.device, loadMs: Math.round(performance.now() - started) }, 'model ready');
  }

  classifier(task: AnalysisTask): Classifier {
    const classifier = this.classifiers.get(task);
    if (!classifier) throw new CuratorError('model_missing', `This worker holds no ${task} model`);
    return classifier;
  }

  textGenerator(role: 'summarizer' | 'headline'): TextGenerator {
    const generator = this.textGenerators.get(role);
    if (!generator) throw new CuratorError('model_missing', `This worker holds no ${role} model`);
    return generator;
  }

  images(): ImageGenerator {
    if (!this.imageGenerator) throw new CuratorError('model_missing', 'This worker holds no image model');
    return this.imageGenerator;
  }

  modelId(role: ModelRole): string {
    return this.hosted.get(role)?.model.id ?? role;
  }

  describe(): LoadedModel[] {
    return [...this.hosted.values()].map((h) => ({
      role: h.role,
      model: h.model.id,
      precision: h.model.precision,
      device: this.device.device,
      loadMs: Math.round(h.loadMs),
      warmupMs: h.warmupMs === null ? null : Math.round(h.warmupMs),
    }));
  }

  /** Busy milliseconds per model so far (for the inference busy-time counter). */
  busy(): Array<{ model: string; busyMs: number }> {
    return [...this.hosted.values()].map((h) => ({ model: h.model.id, busyMs: h.busyMs() }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.hosted.values()].map((h) => h.close().catch(() => undefined)));
    this.hosted.clear();
    this.classifiers.clear();
    this.imageGenerator = null;
    this.textGenerators.clear();
  }
}
