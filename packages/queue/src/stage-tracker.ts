import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Stage, StageInputInfo } from '@curator/contracts';
import { keys } from './names.ts';
import type { JobProgressData } from './job-data.ts';

export interface StageOutcome<T> {
  value: T;
  model?: string;
  input?: StageInputInfo;
  metrics?: Record<string, number>;
}

export interface StageOptions {
  model?: string;
  /** Inputs that decide the stage's output; when given, the output is reused from the content-addressed cache. */
  cacheKey?: unknown;
  /** Check that a cached value is still usable (e.g. its stored objects still exist). */
  validateCached?: (value: unknown) => Promise<boolean>;
}

export interface StageContext {
  /** Reports progress within the running stage, 0..1. */
  progress(fraction: number, detail?: string): void;
  signal: AbortSignal;
}

const progressIntervalMs = 200;

export interface StageTrackerOptions {
  stageNames: string[];
  /** Writes the job's progress (in order; a late write never overwrites a newer one). */
  writeProgress(progress: JobProgressData): Promise<unknown>;
  /** Called with each stage that ran (not for cache hits). */
  onStageFinished?(stage: { name: string; model: string | undefined; seconds: number }): void;
  redis: Redis;
  prefix: string;
  cacheTtlSeconds: number;
  signal: AbortSignal;
  /** When a worker first started this run of the job (epoch ms), written with every progress. */
  startedAt: number;
}

/**
 * Runs a job's stages in order, keeps the job's progress and stage list current in Redis (read
 * by `GET /jobs/:id`), times each stage into the metrics, and reuses cached stage outputs.
 */
export class StageTracker {
  readonly stages: Stage[];
  private readonly writeProgress: StageTrackerOptions['writeProgress'];
  private readonly onStageFinished: StageTrackerOptions['onStageFinished'];
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly cacheTtlSeconds: number;
  private readonly signal: AbortSignal;
  private readonly startedAt: number;
  private current: { index: number; fraction: number; detail: string | undefined } | null = null;
  private lastWrite = 0;
  private pendingWrite: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(options: StageTrackerOptions) {
    this.writeProgress = options.writeProgress;
    this.onStageFinished = options.onStageFinished;
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.cacheTtlSeconds = options.cacheTtlSeconds;
    this.signal = options.signal;
    this.startedAt = options.startedAt;
    this.stages = options.stageNames.map((name) => ({ name, status: 'pending', durationMs: null, cached: false }));
  }

  async run<T>(name: string, options: StageOptions, work: (context: StageContext) => Promise<StageOutcome<T>>): Promise<T> {
    const index = this.stages.findIndex((s) => s.name === name);
    if (index < 0) throw new Error(`Stage ${name} was not declared`);
    const stage = this.stages[index]!;
    if (this.signal.aborted) throw this.signal.reason;
    stage.status = 'running';
    if (options.model) stage.model = options.model;
    this.current = { index, fraction: 0, detail: undefined };
    await this.flush();

    const cacheKey = options.cacheKey === undefined ? null : keys(this.prefix).stageCache(hashOf({ stage: name, model: options.model, key: options.cacheKey }));
    if (cacheKey) {
      const cached = await this.redis.get(cacheKey).catch(() => null);
      if (cached) {
        const outcome = JSON.parse(cached) as StageOutcome<T>;
        if (!options.validateCached || (await options.validateCached(outcome.value))) {
          // A value in use stays: a rerun of this job within its ttl finds it too.
          await this.redis.expire(cacheKey, this.cacheTtlSeconds).catch(() => undefined);
          this.finishStage(stage, outcome, 0, true);
          await this.flush();
          return outcome.value;
        }
      }
    }

    const started = performance.now();
    try {
      const outcome = await work({ progress: (fraction, detail) => this.onProgress(index, fraction, detail), signal: this.signal });
      const ms = performance.now() - started;
      this.finishStage(stage, outcome, ms, false);
      this.onStageFinished?.({ name, model: options.model, seconds: ms / 1000 });
      if (cacheKey) await this.redis.set(cacheKey, JSON.stringify(outcome), 'EX', this.cacheTtlSeconds).catch(() => undefined);
      await this.flush();
      return outcome.value;
    } catch (error) {
      stage.status = 'failed';
      stage.durationMs = Math.round(performance.now() - started);
      await this.flush().catch(() => undefined);
      throw error;
    }
  }

  /** A stage that runs elsewhere (another pool): shown running with a note until it comes back. */
  async markWaiting(name: string, detail: string): Promise<void> {
    const index = this.stages.findIndex((s) => s.name === name);
    if (index < 0) return;
    if (this.stages[index]!.status === 'succeeded') return;
    this.stages[index]!.status = 'running';
    this.current = { index, fraction: 0, detail };
    await this.flush();
  }

  /** Takes over stages that finished earlier (before the job waited) or elsewhere (in a child job). */
  restoreFinished(stages: Stage[]): void {
    for (const saved of stages) {
      if (saved.status === 'succeeded' || saved.status === 'skipped') this.restore(saved.name, { ...saved });
    }
  }

  /** Fills in a stage that ran elsewhere. */
  restore(name: string, fields: Partial<Stage>): void {
    const stage = this.stages.find((s) => s.name === name);
    if (stage) Object.assign(stage, fields);
    if (this.current && this.stages[this.current.index]?.name === name) this.current = null;
  }

  skip(name: string): void {
    const stage = this.stages.find((s) => s.name === name);
    if (stage) stage.status = 'skipped';
  }

  private finishStage(stage: Stage, outcome: StageOutcome<unknown>, ms: number, cached: boolean): void {
    stage.status = 'succeeded';
    stage.durationMs = Math.round(ms * 10) / 10;
    stage.cached = cached;
    if (outcome.model) stage.model = outcome.model;
    if (outcome.input) stage.input = outcome.input;
    if (outcome.metrics) stage.metrics = outcome.metrics;
    this.current = null;
  }

  percent(): number {
    const weight = 100 / Math.max(1, this.stages.length);
    const done = this.stages.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
    const partial = this.current ? this.current.fraction : 0;
    return Math.min(100, Math.round((done + partial) * weight * 10) / 10);
  }

  private onProgress(index: number, fraction: number, detail: string | undefined): void {
    if (!this.current || this.current.index !== index) return;
    this.current.fraction = Math.max(0, Math.min(1, fraction));
    this.current.detail = detail;
    // Token-by-token progress would hammer Redis; write at most every 200 ms, always the latest.
    const wait = this.lastWrite + progressIntervalMs - performance.now();
    if (wait <= 0) void this.flush().catch(() => undefined);
    else if (!this.pendingWrite) this.pendingWrite = setTimeout(() => void this.flush().catch(() => undefined), wait);
  }

  flush(): Promise<void> {
    if (this.pendingWrite) {
      clearTimeout(this.pendingWrite);
      this.pendingWrite = null;
    }
    this.lastWrite = performance.now();
    const running = this.stages.find((s) => s.status === 'running');
    const progress: JobProgressData = {
      percent: this.percent(),
      stage: running?.name ?? null,
      ...(this.current?.detail ? { detail: this.current.detail } : {}),
      stages: this.stages.map((s) => ({ ...s })),
      startedAt: this.startedAt,
    };
    // Writes go out in order, so a late write never overwrites a newer one.
    this.writing = this.writing.then(() => this.writeProgress(progress)).then(
      () => undefined,
      () => undefined,
    );
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.pendingWrite) clearTimeout(this.pendingWrite);
    this.pendingWrite = null;
    await this.writing;
  }
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

/** JSON with sorted keys, so equal inputs hash equal whatever their key order. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
