import { Queue, Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CuratorError, isCuratorError, type JobRequest, type JobType, type StoredJobView, type WorkerHeartbeat } from '@curator/contracts';
import { pools, poolForJobType, keys, isJobId, newJobId, childJobId, type Pool } from './names.ts';
import type { JobData, JobReturn } from './job-data.ts';
import { toJobView, withChildProgress, asProgress, defaultLinks, type JobLinks } from './job-view.ts';
import { readHeartbeats } from './heartbeat.ts';
import { createCommandRedis, logRedisErrors, type RedisErrorLog } from './connection.ts';
import { jobOptions, type QueueSettings } from './settings.ts';
import { JobEvents, type JobWatch } from './job-events.ts';

export interface JobQueuesOptions {
  settings: QueueSettings;
  /** Longest wait for one Redis command; a call that needs longer answers `queue_unavailable`. */
  commandTimeoutMs: number;
  logger: RedisErrorLog;
  links?: JobLinks;
}

export interface QueueDepth {
  queue: Pool;
  state: 'waiting' | 'prioritized' | 'active' | 'delayed' | 'failed' | 'waiting-children';
  count: number;
}

type BulkJob = { name: string; data: JobData; opts: ReturnType<typeof jobOptions> };
type CuratorJob = Job<JobData, JobReturn>;
/** Most jobs in one group commit: bounds the size of one Redis transaction. */
const maxJobsPerAdd = 200;

/**
 * The gateway's side of the queues: submit jobs, read them back, cancel them, watch them change.
 * Every call is bounded: while Redis is unreachable or slow it fails with `queue_unavailable`
 * (retryable) within a few command timeouts instead of hanging the request.
 */
export class JobQueues {
  /** The command connection (bounded); the rate limiter's store shares it. */
  readonly redis: Redis;
  private readonly queues: Record<Pool, Queue<JobData, JobReturn>>;
  private readonly settings: QueueSettings;
  /** The links every job view and acceptance carries (PUBLIC_URL-based or relative). */
  readonly links: JobLinks;
  private readonly deadlineMs: number;
  private readonly events: JobEvents;

  constructor(options: JobQueuesOptions) {
    this.settings = options.settings;
    this.links = options.links ?? defaultLinks;
    // A call is a few commands in a row; BullMQ's first command also waits for the connection.
    this.deadlineMs = options.commandTimeoutMs * 3;
    this.redis = createCommandRedis(options.settings.redisUrl, options.commandTimeoutMs);
    logRedisErrors(this.redis, options.logger, 'gateway');
    const make = (pool: Pool) => new Queue<JobData, JobReturn>(pool, { connection: this.redis, prefix: options.settings.prefix });
    this.queues = { text: make('text'), image: make('image') };
    for (const queue of Object.values(this.queues)) queue.on('error', () => undefined);
    this.events = new JobEvents({ redisUrl: options.settings.redisUrl, prefix: options.settings.prefix, logger: options.logger });
  }

  /** Runs a gateway operation within its deadline; Redis trouble becomes `queue_unavailable`. */
  private async bounded<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.deadlineMs} ms`)), this.deadlineMs);
    });
    try {
      return await Promise.race([operation(), deadline]);
    } catch (error) {
      if (isCuratorError(error)) throw error;
      throw new CuratorError('queue_unavailable', `The job queue is unavailable (${what}): ${(error as Error).message}`, { retryable: true, cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Enqueues already-validated requests; returns their ids in order. Submissions that arrive in the
   * same turn of the event loop go to Redis together, one `addBulk` per pool (group commit): under
   * concurrent load that is one round trip and one transaction for many requests instead of one each.
   */
  async submit(requests: JobRequest[]): Promise<Array<{ id: string; type: JobType }>> {
    const submittedAt = new Date().toISOString();
    const accepted = requests.map((request) => ({ id: newJobId(), request }));
    const byPool = Map.groupBy(accepted, (item) => poolForJobType(item.request.type));
    await this.bounded('enqueue', () =>
      Promise.all([...byPool].map(([pool, items]) => this.enqueue(pool, items.map(({ id, request }) => ({ name: request.type, data: { request, submittedAt }, opts: jobOptions(this.settings, id) }))))),
    );
    return accepted.map(({ id, request }) => ({ id, type: request.type }));
  }

  private readonly pendingAdds = new Map<Pool, { jobs: BulkJob[]; done: Promise<void> }>();

  private enqueue(pool: Pool, jobs: BulkJob[]): Promise<void> {
    const pending = this.pendingAdds.get(pool);
    if (pending && pending.jobs.length + jobs.length <= maxJobsPerAdd) {
      pending.jobs.push(...jobs);
      return pending.done;
    }
    const batch = { jobs: [...jobs], done: Promise.resolve() };
    batch.done = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (this.pendingAdds.get(pool) === batch) this.pendingAdds.delete(pool);
        this.queues[pool].addBulk(batch.jobs).then(() => resolve(), reject);
      });
    });
    this.pendingAdds.set(pool, batch);
    return batch.done;
  }

  private async findJob(id: string): Promise<CuratorJob | null> {
    for (const pool of pools) {
      const job = await Job.fromId<JobData, JobReturn>(this.queues[pool], id);
      if (job) return job;
    }
    return null;
  }

  /** A job by id; null for an unknown id or one that is not a job id at all (never a BullMQ key). */
  get(id: string): Promise<StoredJobView | null> {
    if (!isJobId(id)) return Promise.resolve(null);
    return this.bounded('read', () => this.read(id));
  }

  private async read(id: string): Promise<StoredJobView | null> {
    let job = await this.findJob(id);
    if (!job) return null;
    const state = await job.getState();
    // The job may have finished between reading its fields and its state: read the fields again
    // so a finished job never shows without its result or error.
    if ((state === 'completed' || state === 'failed') && !job.finishedOn) {
      job = (await Job.fromId<JobData, JobReturn>(this.queues[poolForJobType(job.data.request.type)], id)) ?? null;
      if (!job) return null;
    }
    const view = toJobView(job, state, this.links);
    return state === 'waiting-children' ? this.withChild(view) : view;
  }

  /** A job waiting for its child shows the child's live stages. */
  private async withChild(view: StoredJobView): Promise<StoredJobView> {
    for (const pool of pools.filter((p) => p !== poolForJobType(view.type))) {
      const child = await Job.fromId<JobData, JobReturn>(this.queues[pool], childJobId(view.id, pool));
      const progress = asProgress(child?.progress);
      if (progress) return withChildProgress(view, progress);
    }
    return view;
  }

  /** The request a job was submitted with, as stored (defaults applied): what a rerun would run again. */
  request(id: string): Promise<JobRequest | null> {
    if (!isJobId(id)) return Promise.resolve(null);
    return this.bounded('read', async () => (await this.findJob(id))?.data.request ?? null);
  }

  /** Several jobs in the order asked; null where there is none. */
  list(ids: string[]): Promise<Array<StoredJobView | null>> {
    return Promise.all(ids.map((id) => this.get(id)));
  }

  /**
   * Cancels a job. BullMQ's own cancel reaches only the worker object holding the job, so the
   * request is published to every worker (the holder aborts it) and left as a marker that a
   * worker picking the job up later honours.
   */
  async cancel(id: string): Promise<StoredJobView | null> {
    const view = await this.get(id);
    if (!view) return null;
    if (view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled') {
      throw new CuratorError('job_not_cancelable', `Job ${id} already ${view.status}`);
    }
    const k = keys(this.settings.prefix);
    await this.bounded('cancel', async () => {
      await this.redis.set(k.cancelMarker(id), '1', 'EX', this.settings.ttlSeconds);
      await this.redis.publish(k.cancelChannel, id);
    });
    return view;
  }

  /** Starts the event readers `watch` uses; resolves when they read (it waits while Redis is away). */
  startWatching(): Promise<void> {
    return this.events.start();
  }

  /** Subscribes to a job's changes (pushed from BullMQ's events; read the job again on each). */
  watch(id: string): JobWatch {
    return this.events.watch(id);
  }

  depths(): Promise<QueueDepth[]> {
    return this.bounded('count', async () => {
      const states = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'waiting-children'] as const;
      const out: QueueDepth[] = [];
      for (const pool of pools) {
        const counts = await this.queues[pool].getJobCounts(...states);
        for (const state of states) out.push({ queue: pool, state, count: counts[state] ?? 0 });
      }
      return out;
    });
  }

  workers(): Promise<WorkerHeartbeat[]> {
    return this.bounded('workers', () => readHeartbeats(this.redis, this.settings.prefix));
  }

  /** Resolves once the command connection is up (commands fail at once before that: no offline queue). */
  ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return this.bounded('connect', () => new Promise<void>((resolve) => this.redis.once('ready', () => resolve())));
  }

  ping(): Promise<unknown> {
    return this.bounded('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.events.close();
    await Promise.all(pools.map((pool) => this.queues[pool].close().catch(() => undefined)));
    this.redis.disconnect();
  }
}
