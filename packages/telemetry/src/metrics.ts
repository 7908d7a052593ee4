import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ProcessKind = 'gateway' | 'worker' | 'all';

export interface MetricsOptions<P extends ProcessKind = ProcessKind> {
  process: P;
  /** Added to every series of this registry, e.g. `{ service: 'worker' }`. Prometheus adds `instance` itself. */
  defaultLabels?: Record<string, string>;
}

/** One row per (queue, state): what `setQueueDepthSource` returns. States: waiting, prioritized, active, delayed, failed. */
export interface QueueDepthSample {
  queue: string;
  state: string;
  count: number;
}

/** One row per worker pool, counted from heartbeats: `alive` sent one recently, `ready` also has its models loaded. */
export interface WorkerCountSample {
  pool: string;
  alive: number;
  ready: number;
}

export type QueueDepthSource = () => Promise<QueueDepthSample[]>;
export type WorkerCountSource = () => Promise<WorkerCountSample[]>;

const secondsBuckets = {
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  job: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200],
  queueWait: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
  stage: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120, 300],
  firstToken: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
};

/** Metrics both process kinds expose. */
export interface CommonMetrics {
  registry: Registry;
  /** A source callback (queue depth, worker count) threw during a scrape; its gauge is left empty for that scrape. */
  metricsSourceErrors: Counter<'source'>;
}

/** What the gateway observes: HTTP traffic, submissions, and the fleet as seen through Redis. */
export interface GatewayMetrics extends CommonMetrics {
  /** Label `route` is the route template (`/v1/jobs/:id`), never the raw URL; unmatched requests use `unmatched`. */
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  jobsSubmitted: Counter<'type'>;
  /** Cancel requests accepted, whether the job was queued or running (a running one also ends as failed/canceled on its worker). */
  jobsCanceled: Counter<'type'>;
  /** Ratings clients gave (`POST /jobs/:id/feedback`): job type, what was rated, and the rating 1..5. */
  feedback: Counter<'type' | 'field' | 'rating'>;
  /** Sampled from the source on every scrape; the KEDA autoscaler reads `state=~"waiting|prioritized"`. */
  queueDepth: Gauge<'queue' | 'state'>;
  /** `state` is `alive` or `ready`, sampled from the worker count source on every scrape. */
  workers: Gauge<'pool' | 'state'>;
  setQueueDepthSource(source: QueueDepthSource): void;
  setWorkerCountSource(source: WorkerCountSource): void;
}

/** What a worker observes about the jobs and models it runs. */
export interface WorkerMetrics extends CommonMetrics {
  jobsCompleted: Counter<'type'>;
  /** `code` is the job's CuratorError code (a bounded set); `canceled` for a job canceled while running. */
  jobsFailed: Counter<'type' | 'code'>;
  /** Enqueue to finish, whatever the outcome. */
  jobDuration: Histogram<'type' | 'outcome'>;
  /** Enqueue (or last retry) to the moment a worker picked the job up. */
  jobQueueWait: Histogram<'type'>;
  /** Attempts a job took when it finished (1 = no retry). */
  jobAttempts: Histogram<'type'>;
  /** Jobs this worker process runs right now. */
  activeJobs: Gauge<'pool'>;
  stageDuration: Histogram<'stage' | 'model'>;
  tokensGenerated: Counter<'model'>;
  timeToFirstToken: Histogram<'model'>;
  tokensPerSecond: Histogram<'model'>;
  denoisingSteps: Counter<'model'>;
  batchSize: Histogram<'model'>;
  /** Seconds the inference thread spent running the model; `rate()` of it is the model's busy fraction. */
  inferenceBusySeconds: Counter<'model' | 'device'>;
  modelLoadSeconds: Gauge<'role' | 'model' | 'device'>;
  modelWarmupSeconds: Gauge<'role' | 'model' | 'device'>;
  /** Always 1; the labels carry the facts (`set({ device, host, pools }, 1)`). */
  workerInfo: Gauge<'device' | 'host' | 'pools'>;
  /** Unix time of the last heartbeat this worker wrote to Redis. */
  lastHeartbeat: Gauge;
}

export type AllMetrics = GatewayMetrics & WorkerMetrics;

export type MetricsFor<P extends ProcessKind> = P extends 'gateway' ? GatewayMetrics : P extends 'worker' ? WorkerMetrics : AllMetrics;

/**
 * A fresh registry (never prom-client's global one, so tests and `npm start`, which runs gateway and
 * worker in one process as `all`, can hold several) with Node's default metrics and Curator's own.
 */
export function createMetrics<P extends ProcessKind>(options: MetricsOptions<P>): MetricsFor<P> {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  // Process CPU/memory, heap, GC and event loop lag (nodejs_eventloop_lag_*_seconds) come from here.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const common: CommonMetrics = {
    registry,
    metricsSourceErrors: new Counter({
      name: 'curator_metrics_source_errors_total',
      help: 'Scrapes during which a metrics source callback (queue depth, worker count) failed.',
      labelNames: ['source'],
      registers,
    }),
  };

  const gateway = options.process === 'worker' ? {} : gatewayMetrics(registers, common.metricsSourceErrors);
  const worker = options.process === 'gateway' ? {} : workerMetrics(registers);
  return { ...common, ...gateway, ...worker } as MetricsFor<P>;
}

function gatewayMetrics(registers: Registry[], sourceErrors: Counter<'source'>): Omit<GatewayMetrics, keyof CommonMetrics> {
  let queueDepthSource: QueueDepthSource | undefined;
  let workerCountSource: WorkerCountSource | undefined;

  // Sampled at scrape time so the value is never older than the scrape; a failing source leaves the
  // gauge empty rather than repeating a stale number that an autoscaler would act on.
  const queueDepth = new Gauge({
    name: 'curator_queue_depth',
    help: 'Jobs in a queue by state (waiting, prioritized, active, delayed, failed), read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      if (!queueDepthSource) return;
      let samples: QueueDepthSample[];
      try {
        samples = await queueDepthSource();
      } catch {
        this.reset();
        sourceErrors.inc({ source: 'queue_depth' });
        return;
      }
      this.reset();
      for (const s of samples) this.set({ queue: s.queue, state: s.state }, s.count);
    },
  });

  const workers = new Gauge({
    name: 'curator_workers',
    help: 'Workers by pool and state, counted from heartbeats: alive (heartbeat seen recently), ready (alive with models loaded).',
    labelNames: ['pool', 'state'] as const,
    registers,
    async collect() {
      if (!workerCountSource) return;
      let samples: WorkerCountSample[];
      try {
        samples = await workerCountSource();
      } catch {
        this.reset();
        sourceErrors.inc({ source: 'worker_count' });
        return;
      }
      this.reset();
      for (const s of samples) {
        this.set({ pool: s.pool, state: 'alive' }, s.alive);
        this.set({ pool: s.pool, state: 'ready' }, s.ready);
      }
    },
  });

  return {
    httpRequestDuration: new Histogram({
      name: 'curator_http_request_duration_seconds',
      help: 'Gateway HTTP request duration by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: secondsBuckets.http,
      registers,
    }),
    jobsSubmitted: new Counter({
      name: 'curator_jobs_submitted_total',
      help: 'Jobs accepted and enqueued, by job type.',
      labelNames: ['type'] as const,
      registers,
    }),
    jobsCanceled: new Counter({
      name: 'curator_jobs_canceled_total',
      help: 'Jobs canceled at a client request, by job type.',
      labelNames: ['type'] as const,
      registers,
    }),
    feedback: new Counter({
      name: 'curator_feedback_total',
      help: 'Feedback ratings on jobs, by job type, the field rated and the rating (1..5).',
      labelNames: ['type', 'field', 'rating'] as const,
      registers,
    }),
    queueDepth,
    workers,
    setQueueDepthSource(source) {
      queueDepthSource = source;
    },
    setWorkerCountSource(source) {
      workerCountSource = source;
    },
  };
}

function workerMetrics(registers: Registry[]): Omit<WorkerMetrics, keyof CommonMetrics> {
  return {
    jobsCompleted: new Counter({
      name: 'curator_jobs_completed_total',
      help: 'Jobs finished successfully, by job type.',
      labelNames: ['type'] as const,
      registers,
    }),
    jobsFailed: new Counter({
      name: 'curator_jobs_failed_total',
      help: 'Jobs failed for good (retries exhausted or not retryable), by job type and error code.',
      labelNames: ['type', 'code'] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'curator_job_duration_seconds',
      help: 'End-to-end job time from enqueue to finish, by job type and outcome (succeeded, failed, canceled).',
      labelNames: ['type', 'outcome'] as const,
      buckets: secondsBuckets.job,
      registers,
    }),
    jobQueueWait: new Histogram({
      name: 'curator_job_queue_wait_seconds',
      help: 'Time a job waited in the queue before a worker started it, by job type.',
      labelNames: ['type'] as const,
      buckets: secondsBuckets.queueWait,
      registers,
    }),
    jobAttempts: new Histogram({
      name: 'curator_job_attempts',
      help: 'Attempts a job took by the time it finished (1 means no retry), by job type.',
      labelNames: ['type'] as const,
      buckets: [1, 2, 3, 5, 10],
      registers,
    }),
    activeJobs: new Gauge({
      name: 'curator_worker_active_jobs',
      help: 'Jobs this worker process is running now, by pool.',
      labelNames: ['pool'] as const,
      registers,
    }),
    stageDuration: new Histogram({
      name: 'curator_stage_duration_seconds',
      help: 'Duration of one pipeline stage (fetch, extract, classify, summarize, headline, image, upload...), by stage and model ("none" for stages without a model).',
      labelNames: ['stage', 'model'] as const,
      buckets: secondsBuckets.stage,
      registers,
    }),
    tokensGenerated: new Counter({
      name: 'curator_tokens_generated_total',
      help: 'Tokens produced by text generation, by model.',
      labelNames: ['model'] as const,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: 'curator_time_to_first_token_seconds',
      help: 'Time from the start of generation to the first generated token, by model.',
      labelNames: ['model'] as const,
      buckets: secondsBuckets.firstToken,
      registers,
    }),
    tokensPerSecond: new Histogram({
      name: 'curator_generation_tokens_per_second',
      help: 'Decoding speed of one generation (tokens after the first divided by their time), by model.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
      registers,
    }),
    denoisingSteps: new Counter({
      name: 'curator_denoising_steps_total',
      help: 'Diffusion denoising steps run, by model.',
      labelNames: ['model'] as const,
      registers,
    }),
    batchSize: new Histogram({
      name: 'curator_batch_size',
      help: 'Requests per model batch formed by the micro-batcher, by model.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    inferenceBusySeconds: new Counter({
      name: 'curator_inference_busy_seconds_total',
      help: 'Seconds spent inside model runs, by model and device; its rate is the busy fraction.',
      labelNames: ['model', 'device'] as const,
      registers,
    }),
    modelLoadSeconds: new Gauge({
      name: 'curator_model_load_seconds',
      help: 'Time the last load of a model took, by role, model and device.',
      labelNames: ['role', 'model', 'device'] as const,
      registers,
    }),
    modelWarmupSeconds: new Gauge({
      name: 'curator_model_warmup_seconds',
      help: 'Time the warm-up run after loading took, by role, model and device.',
      labelNames: ['role', 'model', 'device'] as const,
      registers,
    }),
    workerInfo: new Gauge({
      name: 'curator_worker_info',
      help: 'Always 1; labels describe the worker process (device, host, pools).',
      labelNames: ['device', 'host', 'pools'] as const,
      registers,
    }),
    lastHeartbeat: new Gauge({
      name: 'curator_worker_last_heartbeat_timestamp_seconds',
      help: 'Unix time of the last heartbeat this worker wrote to Redis.',
      registers,
    }),
  };
}
