import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker, Queue, UnrecoverableError, WaitingError, WaitingChildrenError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CuratorError, isCuratorError, availableJobTypes, type ErrorInfo, type JobType, type WorkerHeartbeat } from '@curator/contracts';
import type { Env } from '@curator/config';
import { jobDataSchema, encodeFailure, keys, publishHeartbeat, removeHeartbeat, type JobData, type JobReturn, type Pool } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import type { Logger, WorkerMetrics } from '@curator/telemetry';
import { ModelHost } from './model-host.ts';
import { StageTracker } from './stage-tracker.ts';
import { pipelineFor, type PipelineContext } from './pipelines.ts';

export interface WorkerDependencies {
  env: Env;
  /** A connection the worker may share for commands (not for blocking reads). */
  redis: Redis;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  logger: Logger;
  jobTypes?: readonly JobType[];
  /** Grace period on shutdown before in-flight jobs are handed back to the queue. */
  shutdownGraceMs?: number;
}

export interface RunningWorker {
  id: string;
  models: ModelHost;
  heartbeat(): WorkerHeartbeat;
  /** Stops taking jobs, finishes (or hands back) those in flight, unloads the models. */
  close(): Promise<void>;
}

const version = '0.1.0';

function toCurator(error: unknown): CuratorError {
  if (isCuratorError(error)) return error;
  return new CuratorError('internal_error', error instanceof Error ? error.message : String(error), { cause: error });
}

export async function startWorker(deps: WorkerDependencies): Promise<RunningWorker> {
  const { env, redis, metrics, logger } = deps;
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const pools = env.WORKER_POOLS as Pool[];
  const startedAt = new Date().toISOString();
  const models = await ModelHost.load({
    pools,
    jobTypes: deps.jobTypes ?? availableJobTypes,
    modelsDir: env.MODELS_DIR,
    set: env.CURATOR_MODELS,
    device: env.CURATOR_DEVICE,
    deviceId: env.CURATOR_DEVICE_ID,
    logger,
    metrics,
    batching: { maxBatchSize: env.BATCH_MAX_SIZE, maxDelayMs: env.BATCH_MAX_DELAY_MS },
    precision: env.CURATOR_PRECISION,
    sessionOptions: env.CURATOR_SESSION_OPTIONS,
  });
  const prefix = env.QUEUE_PREFIX;
  const imageQueue = new Queue<JobData, JobReturn>('image', { connection: redis, prefix });
  const enqueueImageStages = async (parent: Job<JobData, JobReturn>, data: JobData, childId: string) => {
    await imageQueue.add('text-to-image', data, {
      jobId: childId,
      parent: { id: parent.id!, queue: parent.queueQualifiedName },
      failParentOnFailure: true,
      attempts: env.JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: env.JOB_BACKOFF_MS },
      removeOnComplete: { age: env.JOB_TTL_SECONDS },
      removeOnFail: { age: env.JOB_TTL_SECONDS },
    });
  };
  const k = keys(prefix);
  const active = new Map<string, { type: JobType; tracker: StageTracker | null }>();
  let ready = true;
  let handingBack = false;
  const fetchOptions = {
    timeoutMs: env.FETCH_TIMEOUT_MS,
    maxBytes: env.FETCH_MAX_BYTES,
    maxRedirects: env.FETCH_MAX_REDIRECTS,
    allowPrivate: env.FETCH_ALLOW_PRIVATE,
  };

  const processJob = async (pool: Pool, job: Job<JobData, JobReturn>, token: string | undefined, signal: AbortSignal | undefined): Promise<JobReturn> => {
    const jobId = job.id!;
    const abort = signal ?? new AbortController().signal;
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(encodeFailure({ code: 'bad_input', message: `Job data does not match the contract: ${parsed.error.issues[0]?.message ?? ''}` }));
    }
    const { request, submittedAt } = parsed.data;
    const type = request.type;
    metrics.jobQueueWait.observe({ type }, Math.max(0, (Date.now() - Math.max(Date.parse(submittedAt), job.timestamp)) / 1000));
    metrics.activeJobs.inc({ pool });
    const pipeline = pipelineFor(type);
    const tracker = new StageTracker({ job, stageNames: pipeline.stages(request as never), metrics, redis, prefix, cacheTtlSeconds: env.JOB_TTL_SECONDS, signal: abort });
    active.set(jobId, { type, tracker });
    try {
      const markers = await redis.mget(k.cancelMarker(jobId), k.cancelMarker(parsed.data.parentId ?? jobId));
      if (markers.some(Boolean)) throw new CuratorError('canceled', 'The job was canceled');
      const context: PipelineContext = {
        jobId,
        job,
        token,
        enqueueImageStages: (data, childId) => enqueueImageStages(job, data, childId),
        tracker,
        storage: deps.storage,
        metrics,
        models,
        fetchOptions,
        signal: abort,
      };
      const result = await pipeline.run(request as never, context);
      await tracker.close();
      metrics.jobsCompleted.inc({ type });
      metrics.jobDuration.observe({ type, outcome: 'succeeded' }, (Date.now() - job.timestamp) / 1000);
      metrics.jobAttempts.observe({ type }, job.attemptsMade + 1);
      return { result, stages: tracker.stages };
    } catch (raw) {
      await tracker.close();
      // Not a failure: the job waits for its image stages in the other pool and comes back.
      if (raw instanceof WaitingChildrenError) throw raw;
      if (handingBack && abort.aborted) {
        // Shutting down: give the job back untouched so another worker runs it from the start.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const error = abort.aborted && !isCuratorError(raw) ? new CuratorError('canceled', 'The job was canceled') : toCurator(raw);
      const info: ErrorInfo = error.toInfo();
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (error.code === 'internal_error') logger.error({ err: raw, jobId, type }, 'job crashed');
      if (!error.retryable || lastAttempt) {
        metrics.jobsFailed.inc({ type, code: error.code });
        metrics.jobDuration.observe({ type, outcome: error.code === 'canceled' ? 'canceled' : 'failed' }, (Date.now() - job.timestamp) / 1000);
        metrics.jobAttempts.observe({ type }, job.attemptsMade + 1);
      }
      // Bad input fails at once; only transient failures (storage, Redis, a crashed thread) retry.
      if (!error.retryable) throw new UnrecoverableError(encodeFailure(info));
      throw new Error(encodeFailure(info));
    } finally {
      active.delete(jobId);
      metrics.activeJobs.dec({ pool });
    }
  };

  const workers = pools.map((pool) => {
    const worker = new Worker<JobData, JobReturn>(pool, (job, token, signal) => processJob(pool, job, token, signal), {
      connection: redis.duplicate(),
      prefix,
      concurrency: env.WORKER_CONCURRENCY,
      lockDuration: env.WORKER_LOCK_MS,
      stalledInterval: env.WORKER_LOCK_MS,
      autorun: false,
    });
    worker.on('error', (error) => logger.warn({ err: error, pool }, 'worker connection error'));
    return worker;
  });

  // BullMQ's cancel reaches only the worker object holding the job: every worker listens.
  const subscriber = redis.duplicate();
  await subscriber.subscribe(k.cancelChannel);
  subscriber.on('message', (_channel: string, jobId: string) => {
    // A curate job's image stages run as `<id>-image` in the image pool.
    for (const worker of workers) {
      worker.cancelJob(jobId, 'canceled');
      worker.cancelJob(`${jobId}-image`, 'canceled');
    }
  });

  const heartbeat = (): WorkerHeartbeat => ({
    id,
    host: hostname(),
    pid: process.pid,
    pools,
    jobTypes: models.jobTypes,
    device: models.device.device,
    ready,
    concurrency: env.WORKER_CONCURRENCY,
    models: models.describe(),
    jobs: [...active].map(([jobId, a]) => ({ id: jobId, type: a.type, stage: a.tracker?.stages.find((s) => s.status === 'running')?.name ?? null })),
    startedAt,
    lastSeen: new Date().toISOString(),
    version,
  });
  const lastBusy = new Map<string, number>();
  const beat = async () => {
    try {
      await publishHeartbeat(redis, prefix, heartbeat(), env.WORKER_HEARTBEAT_MS);
      metrics.lastHeartbeat.set(Date.now() / 1000);
      for (const { model, busyMs } of models.busy()) {
        const delta = busyMs - (lastBusy.get(model) ?? 0);
        lastBusy.set(model, busyMs);
        if (delta > 0) metrics.inferenceBusySeconds.inc({ model, device: models.device.device }, delta / 1000);
      }
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat failed');
    }
  };
  metrics.workerInfo.set({ device: models.device.device, host: hostname(), pools: pools.join(',') }, 1);
  await beat();
  const timer = setInterval(() => void beat(), env.WORKER_HEARTBEAT_MS);
  for (const worker of workers) void worker.run();
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ id, pools, jobTypes: models.jobTypes, device: models.device.device, concurrency: env.WORKER_CONCURRENCY }, 'worker ready');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      await beat();
      const grace = deps.shutdownGraceMs ?? env.WORKER_SHUTDOWN_GRACE_MS;
      const finished = Promise.all(workers.map((w) => w.close()));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), grace).unref());
      if ((await Promise.race([finished, timeout])) === 'timeout') {
        logger.warn({ jobs: [...active.keys()] }, 'shutdown grace period over: handing jobs in flight back to the queue');
        handingBack = true;
        for (const worker of workers) worker.cancelAllJobs('shutdown');
        await finished;
      }
      clearInterval(timer);
      await subscriber.quit().catch(() => undefined);
      await removeHeartbeat(redis, prefix, id).catch(() => undefined);
      await imageQueue.close();
      await models.close();
      for (const worker of workers) {
        // BullMQ does not close a connection it was handed.
        const connection = (worker as unknown as { opts: { connection: Redis } }).opts.connection;
        connection.disconnect();
      }
      logger.info({ id }, 'worker stopped');
    })());

  return { id, models, heartbeat, close };
}
