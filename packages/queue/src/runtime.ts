import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker, Queue, UnrecoverableError, WaitingError, WaitingChildrenError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  CuratorError,
  curatorVersion,
  detailsFromZod,
  isCuratorError,
  storedResultSchemas,
  type ErrorInfo,
  type JobRequestOf,
  type JobType,
  type StoredResultOf,
  type WorkerHeartbeat,
} from '@curator/contracts';
import { pools as allPools, childJobId, keys, poolForJobType, type Pool } from './names.ts';
import { createRedis, logRedisErrors, type RedisErrorLog } from './connection.ts';
import { decodeFailure, encodeFailure, jobDataSchema, type JobData, type JobReturn } from './job-data.ts';
import { asProgress, attemptsUsed } from './job-view.ts';
import { childJobOptions, jobTtlSeconds, workerLockOptions, type QueueSettings } from './settings.ts';
import { reapExpiredJobs, scheduleRemoval } from './lifetime.ts';
import { StageTracker } from './stage-tracker.ts';
import { publishHeartbeat, removeHeartbeat } from './heartbeat.ts';
import type { JobContext, StageHandler, StageHandlers } from './handlers.ts';

export interface RuntimeLogger extends RedisErrorLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/** How an attempt ended, for metrics. `waiting`: suspended until its child job is done. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'canceled' | 'retrying' | 'waiting' | 'handed-back';

export interface RuntimeHooks {
  jobStarted?(job: { id: string; type: JobType; pool: Pool; queueWaitSeconds: number | null }): void;
  /**
   * An attempt ended. Awaited before the queue records the end, so what it books (a webhook's
   * `completed` message) exists before anyone can see the job finished, and survives the worker dying
   * right after. It should not throw; a rejection is logged.
   */
  jobSettled?(job: { id: string; type: JobType; pool: Pool; outcome: AttemptOutcome; error: ErrorInfo | null; attempts: number; secondsSinceSubmitted: number }): void | Promise<void>;
  stageFinished?(stage: { name: string; model: string | undefined; seconds: number }): void;
  /** After each progress write of a job (at most every 200 ms while a stage reports progress). */
  jobProgressed?(job: { id: string; type: JobType; pool: Pool }): void;
  /** After each heartbeat was written. */
  heartbeat?(): void;
}

/** What the worker tells about itself in its heartbeat; the runtime adds the rest. */
export type WorkerDescription = Pick<WorkerHeartbeat, 'jobTypes' | 'device' | 'models'>;

export interface JobRuntimeOptions {
  settings: QueueSettings;
  pools: readonly Pool[];
  handlers: StageHandlers;
  concurrency: number;
  /** BullMQ job lock; stall checks follow it (see workerLockOptions). */
  lockMs: number;
  /** On close, how long jobs in flight may finish before they are handed back to the queue. */
  shutdownGraceMs: number;
  heartbeatMs: number;
  describe(): WorkerDescription;
  logger: RuntimeLogger;
  hooks?: RuntimeHooks;
}

export interface JobRuntime {
  readonly id: string;
  heartbeat(): WorkerHeartbeat;
  /** Stops taking jobs, lets those in flight finish within the grace period, hands back the rest. */
  close(): Promise<void>;
}

interface ActiveJob {
  type: JobType;
  tracker: StageTracker | null;
}

type CuratorJob = Job<JobData, JobReturn>;

const finishedStage = (status: string) => status === 'succeeded' || status === 'skipped';

function toCurator(error: unknown): CuratorError {
  if (isCuratorError(error)) return error;
  return new CuratorError('internal_error', error instanceof Error ? error.message : String(error), { cause: error });
}

/** The handler's result must match its type's contract: a mismatch is Curator's bug, named by path. */
function checkResult<T extends JobType>(type: T, result: unknown): StoredResultOf<T> {
  const parsed = storedResultSchemas[type].safeParse(result);
  if (parsed.success) return parsed.data as StoredResultOf<T>;
  const details = detailsFromZod(parsed.error, ['result']);
  throw new CuratorError('internal_error', `The ${type} result does not match its contract at ${details[0]?.path}: ${details[0]?.message}`, { details });
}

/**
 * The worker side of the queue: takes jobs of its pools from BullMQ and runs them with the typed
 * handlers, with progress, cancellation, retries, failure mapping, child jobs in other pools,
 * heartbeats and a graceful shutdown. Handlers never see BullMQ.
 */
export async function startJobRuntime(options: JobRuntimeOptions): Promise<JobRuntime> {
  const { settings, logger, hooks = {} } = options;
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const k = keys(settings.prefix);
  const startedAt = new Date().toISOString();
  const connections: Redis[] = [];
  const connect = (name: string) => {
    const redis = createRedis(settings.redisUrl);
    logRedisErrors(redis, logger, name);
    connections.push(redis);
    return redis;
  };
  const commands = connect('worker-commands');
  const queues = Object.fromEntries(allPools.map((pool) => [pool, new Queue<JobData, JobReturn>(pool, { connection: commands, prefix: settings.prefix })])) as Record<Pool, Queue<JobData, JobReturn>>;
  const active = new Map<string, ActiveJob>();
  let ready = true;
  let handingBack = false;

  const contextFor = (job: CuratorJob, token: string | undefined, data: JobData, tracker: StageTracker, signal: AbortSignal): JobContext => ({
    id: job.id!,
    owner: data.owner,
    signal,
    parent: data.parentId ? { id: data.parentId, card: data.card ?? null } : null,
    stage: (name, stageOptions, work) => tracker.run(name, stageOptions, work),
    skip: (name) => tracker.skip(name),
    async checkpoint<R>(name: string, compute: () => Promise<R>): Promise<R> {
      const saved = data.checkpoints?.[name];
      if (saved) return saved.value as R;
      const value = await compute();
      const stages = tracker.stages.filter((s) => finishedStage(s.status)).map((s) => ({ ...s }));
      data.checkpoints = { ...data.checkpoints, [name]: { value, stages } };
      await job.updateData(data);
      return value;
    },
    runChild: <C extends JobType>(request: JobRequestOf<C>, childOptions: { card?: { text: string } } = {}) => runChild(job, token, tracker, request, childOptions),
  });

  async function runChild<C extends JobType>(job: CuratorJob, token: string | undefined, tracker: StageTracker, request: JobRequestOf<C>, childOptions: { card?: { text: string } }): Promise<StoredResultOf<C>> {
    const pool = poolForJobType(request.type);
    const childId = childJobId(job.id!, pool);
    const isChild = (key: string) => key.endsWith(`:${childId}`);
    // Twice at most: once to queue the child, once more when it finished before this job could wait.
    for (let round = 0; round < 2; round++) {
      const done = Object.entries(await job.getChildrenValues<JobReturn>()).find(([key]) => isChild(key))?.[1];
      if (done) {
        tracker.restoreFinished(done.stages);
        return done.result as StoredResultOf<C>;
      }
      const failed = Object.entries(await job.getIgnoredChildrenFailures()).find(([key]) => isChild(key))?.[1];
      if (failed !== undefined) {
        // The child used its own attempts: its failure is final for this job too.
        const info = decodeFailure(failed);
        throw new CuratorError(info.code, info.message, info.details ? { details: info.details } : {});
      }
      const submittedAt = new Date().toISOString();
      const data: JobData = { request, submittedAt, queuedAt: submittedAt, owner: job.data.owner, parentId: job.id!, ...(childOptions.card ? { card: childOptions.card } : {}) };
      await queues[pool].add(request.type, data, childJobOptions(settings, childId, { id: job.id!, queue: job.queueQualifiedName }));
      const waiting = tracker.stages.find((s) => s.status === 'pending');
      if (waiting) await tracker.markWaiting(waiting.name, `waiting for an ${pool} worker`);
      if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
    }
    throw new CuratorError('internal_error', `The ${pool} stages of job ${job.id} finished without a result`);
  }

  const runJob = async (pool: Pool, job: CuratorJob, token: string | undefined, signal: AbortSignal | undefined): Promise<JobReturn> => {
    const jobId = job.id!;
    const abort = signal ?? new AbortController().signal;
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      logger.warn({ jobId, code: 'bad_input' }, 'job failed: its data does not match the contract');
      throw new UnrecoverableError(encodeFailure({ code: 'bad_input', message: `Job data does not match the contract: ${parsed.error.issues[0]?.message ?? ''}` }));
    }
    const data = parsed.data;
    const type = data.request.type;
    const handler = options.handlers[type] as StageHandler<JobType> | undefined;
    const maxAttempts = job.opts.attempts ?? 1;
    const resumed = data.checkpoints !== undefined;
    // A run that started before (a parent resuming after its child, a retry after a transient failure) keeps its start.
    const startedBefore = asProgress(job.progress)?.startedAt;
    const startedAt = startedBefore ?? Date.now();
    const secondsSinceSubmitted = () => Math.max(0, (Date.now() - job.timestamp) / 1000);
    const queuedAt = Date.parse(data.queuedAt ?? data.submittedAt);
    hooks.jobStarted?.({ id: jobId, type, pool, queueWaitSeconds: resumed || startedBefore ? null : Math.max(0, (Date.now() - Math.max(queuedAt, job.timestamp)) / 1000) });
    const entry: ActiveJob = { type, tracker: null };
    active.set(jobId, entry);
    // Every start is matched by one settle, whatever way the attempt ends.
    let settled: { outcome: AttemptOutcome; error: ErrorInfo | null; attempts: number } = { outcome: 'failed', error: null, attempts: attemptsUsed(job, true) };
    try {
      if (!handler) throw new CuratorError('not_implemented', `This worker cannot run ${type} jobs`);
      if (job.stalledCounter > 0) {
        if (attemptsUsed(job, true) > maxAttempts) {
          throw new CuratorError('worker_lost', `The job's worker stopped mid-job ${job.stalledCounter} time(s) (killed or lost); no attempts left`);
        }
        logger.warn({ jobId, type, stalls: job.stalledCounter, attempt: attemptsUsed(job, true), of: maxAttempts }, 'running again a job whose worker stopped mid-job');
      }
      const markers = await commands.mget(k.cancelMarker(jobId), k.cancelMarker(data.parentId ?? jobId));
      if (markers.some(Boolean)) throw new CuratorError('canceled', 'The job was canceled');
      // The deadline is the latest start: a job no worker started by then ends `expired` (never retried).
      const deadline = data.request.deadline;
      if (deadline && startedBefore === undefined && !resumed && attemptsUsed(job, false) === 0 && Date.parse(deadline) < Date.now()) {
        throw new CuratorError('deadline_exceeded', `No worker started the job before its deadline (${new Date(deadline).toISOString()})`);
      }
      const tracker = new StageTracker({
        stageNames: handler.stages(data.request),
        writeProgress: (progress) => job.updateProgress(progress).then(() => hooks.jobProgressed?.({ id: jobId, type, pool })),
        ...(hooks.stageFinished ? { onStageFinished: hooks.stageFinished } : {}),
        redis: commands,
        prefix: settings.prefix,
        cacheTtlSeconds: settings.ttlSeconds,
        signal: abort,
        startedAt,
      });
      entry.tracker = tracker;
      for (const saved of Object.values(data.checkpoints ?? {})) tracker.restoreFinished(saved.stages);
      const result = checkResult(type, await handler.run(data.request, contextFor(job, token, data, tracker, abort)));
      await tracker.close();
      settled = { outcome: 'succeeded', error: null, attempts: attemptsUsed(job, true) };
      return { result, stages: tracker.stages };
    } catch (raw) {
      await entry.tracker?.close();
      if (raw instanceof WaitingChildrenError) {
        settled = { outcome: 'waiting', error: null, attempts: attemptsUsed(job, true) };
        throw raw;
      }
      if (handingBack && abort.aborted) {
        // Shutting down: give the job back untouched so another worker runs it from the start.
        settled = { outcome: 'handed-back', error: null, attempts: attemptsUsed(job, false) };
        // It starts over on the next worker: it waits in the queue as a job not yet started.
        await job.updateProgress(0).catch(() => undefined);
        await job.moveToWait(token);
        logger.info({ jobId, type }, 'job handed back to the queue');
        throw new WaitingError();
      }
      const error = abort.aborted && !isCuratorError(raw) ? new CuratorError('canceled', 'The job was canceled') : toCurator(raw);
      const info = error.toInfo();
      const attempts = attemptsUsed(job, true);
      const final = !error.retryable || attempts >= maxAttempts;
      const outcome: AttemptOutcome = !final ? 'retrying' : error.code === 'canceled' ? 'canceled' : 'failed';
      settled = { outcome, error: info, attempts };
      const fields = { jobId, type, code: error.code, attempt: attempts, of: maxAttempts, ...(error.code === 'internal_error' ? { err: raw } : {}) };
      if (!final) logger.info(fields, `job attempt failed, retrying: ${error.message}`);
      else if (error.code === 'internal_error') logger.error(fields, `job failed: ${error.message}`);
      else logger.warn(fields, `job failed: ${error.message}`);
      // Final failures (bad input, canceled, no attempts left) are not retried; stalls count as attempts.
      if (final) throw new UnrecoverableError(encodeFailure(info));
      throw new Error(encodeFailure(info));
    } finally {
      active.delete(jobId);
      if (!data.parentId && (settled.outcome === 'succeeded' || settled.outcome === 'failed' || settled.outcome === 'canceled')) {
        // A finished job is kept for its ttl, then reaped with its listing entries.
        const expiresAt = Date.now() + jobTtlSeconds(settings, data.request) * 1000;
        await scheduleRemoval(commands, settings.prefix, { pool, owner: data.owner, type, id: jobId }, expiresAt).catch((error: Error) => logger.warn({ err: error, jobId }, 'could not schedule the removal of a finished job'));
      }
      await Promise.resolve(hooks.jobSettled?.({ id: jobId, type, pool, ...settled, secondsSinceSubmitted: secondsSinceSubmitted() })).catch((error: Error) =>
        logger.warn({ err: error, jobId }, 'a job-settled hook failed'),
      );
    }
  };

  const workers = options.pools.map((pool) => {
    const worker = new Worker<JobData, JobReturn>(pool, (job, token, signal) => runJob(pool, job, token, signal), {
      connection: connect(`worker-${pool}`),
      prefix: settings.prefix,
      concurrency: options.concurrency,
      ...workerLockOptions(options.lockMs, settings.attempts),
      autorun: false,
    });
    worker.on('error', (error) => logger.warn({ err: error, pool }, 'worker connection error'));
    return worker;
  });

  // BullMQ's cancel reaches only the worker object holding the job: every worker listens.
  const subscriber = connect('worker-cancel');
  await subscriber.subscribe(k.cancelChannel);
  subscriber.on('message', (_channel: string, jobId: string) => {
    for (const worker of workers) {
      worker.cancelJob(jobId, 'canceled');
      for (const pool of allPools) worker.cancelJob(childJobId(jobId, pool), 'canceled');
    }
  });

  const heartbeat = (): WorkerHeartbeat => ({
    id,
    host: hostname(),
    pid: process.pid,
    pools: [...options.pools],
    ...options.describe(),
    ready,
    concurrency: options.concurrency,
    jobs: [...active].map(([jobId, a]) => ({ id: jobId, type: a.type, stage: a.tracker?.stages.find((s) => s.status === 'running')?.name ?? null })),
    startedAt,
    lastSeen: new Date().toISOString(),
    version: curatorVersion,
  });
  const beat = async () => {
    try {
      await publishHeartbeat(commands, settings.prefix, heartbeat(), options.heartbeatMs);
      hooks.heartbeat?.();
    } catch (error) {
      logger.warn({ err: error }, 'heartbeat failed');
    }
  };
  // Jobs past their ttl are removed by whichever worker looks first (each heartbeat).
  let reaping: Promise<unknown> = Promise.resolve();
  const reap = () =>
    (reaping = reapExpiredJobs(commands, settings.prefix, queues)
      .then((removed) => removed > 0 && logger.info({ removed }, 'removed jobs past their ttl'))
      .catch((error: Error) => logger.warn({ err: error }, 'removing jobs past their ttl failed')));
  await beat();
  const timer = setInterval(() => {
    void beat();
    void reap();
  }, options.heartbeatMs);
  for (const worker of workers) void worker.run();
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      await beat();
      const finished = Promise.all(workers.map((w) => w.close()));
      let graceTimer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (graceTimer = setTimeout(() => resolve('timeout'), options.shutdownGraceMs)));
      if ((await Promise.race([finished, timeout])) === 'timeout') {
        logger.warn({ jobs: [...active.keys()] }, 'shutdown grace period over: handing jobs in flight back to the queue');
        handingBack = true;
        for (const worker of workers) worker.cancelAllJobs('shutdown');
        await finished;
      }
      clearTimeout(graceTimer);
      clearInterval(timer);
      await reaping;
      await subscriber.quit().catch(() => undefined);
      await removeHeartbeat(commands, settings.prefix, id).catch(() => undefined);
      await Promise.all(allPools.map((pool) => queues[pool].close()));
      // BullMQ does not close connections it was handed.
      for (const connection of connections) connection.disconnect();
    })());

  return { id, heartbeat, close };
}
