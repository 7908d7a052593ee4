import { randomUUID } from 'node:crypto';
import { Queue, Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { CuratorError, type JobRequest, type JobView, type JobType, type WorkerHeartbeat } from '@curator/contracts';
import { pools, poolForJobType, keys, type Pool } from './names.ts';
import { decodeFailure, type JobData, type JobReturn } from './job-data.ts';
import { toJobView } from './job-view.ts';
import { readHeartbeats } from './heartbeat.ts';

export interface JobQueuesOptions {
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
  ttlSeconds: number;
  links?: (id: string) => JobView['links'];
}

type BulkJob = { name: string; data: JobData; opts: JobsOptions };
/** Most jobs in one group commit: bounds the size of one Redis transaction. */
const maxJobsPerAdd = 200;

export const defaultLinks = (id: string): JobView['links'] => ({ self: `/jobs/${id}`, events: `/jobs/${id}/events` });

export interface QueueDepth {
  queue: Pool;
  state: 'waiting' | 'prioritized' | 'active' | 'delayed' | 'failed' | 'waiting-children';
  count: number;
}

/** The gateway's side of the queues: submit jobs, read them back, cancel them. */
export class JobQueues {
  readonly queues: Record<Pool, Queue<JobData, JobReturn>>;
  private readonly options: JobQueuesOptions;
  private readonly links: (id: string) => JobView['links'];
  readonly redis: Redis;

  constructor(options: JobQueuesOptions) {
    this.options = options;
    this.redis = options.connection;
    this.links = options.links ?? defaultLinks;
    const make = (pool: Pool) => new Queue<JobData, JobReturn>(pool, { connection: options.connection, prefix: options.prefix });
    this.queues = { text: make('text'), image: make('image') };
  }

  jobOptions(id: string): JobsOptions {
    const { attempts, backoffMs, ttlSeconds } = this.options;
    return {
      jobId: id,
      attempts,
      backoff: { type: 'exponential', delay: backoffMs },
      removeOnComplete: { age: ttlSeconds },
      removeOnFail: { age: ttlSeconds },
    };
  }

  /**
   * Enqueues already-validated requests; returns their ids in order. Submissions that arrive in the
   * same turn of the event loop go to Redis together, one `addBulk` per pool (group commit): under
   * concurrent load that is one round trip and one transaction for many requests instead of one each.
   */
  async submit(requests: JobRequest[]): Promise<Array<{ id: string; type: JobType }>> {
    const submittedAt = new Date().toISOString();
    const accepted = requests.map((request) => ({ id: randomUUID(), request }));
    const byPool = Map.groupBy(accepted, (item) => poolForJobType(item.request.type));
    try {
      await Promise.all(
        [...byPool].map(([pool, items]) => this.enqueue(pool, items.map(({ id, request }) => ({ name: request.type, data: { request, submittedAt }, opts: this.jobOptions(id) })))),
      );
    } catch (error) {
      throw new CuratorError('queue_unavailable', `Could not enqueue: ${(error as Error).message}`, { retryable: true, cause: error });
    }
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

  async findJob(id: string): Promise<Job<JobData, JobReturn> | null> {
    for (const pool of pools) {
      const job = await Job.fromId<JobData, JobReturn>(this.queues[pool], id);
      if (job) return job;
    }
    return null;
  }

  async get(id: string): Promise<JobView | null> {
    let job = await this.findJob(id);
    if (!job) return null;
    const state = await job.getState();
    // The job may have finished between reading its fields and its state: read the fields again
    // so a finished job never shows without its result or error.
    if ((state === 'completed' || state === 'failed') && !job.finishedOn) {
      const again = await Job.fromId<JobData, JobReturn>(this.queues[poolForJobType(job.data.request.type)], id);
      if (!again) return null;
      job = again;
    }
    const view = toJobView(job, state, this.links);
    return state === 'failed' ? this.withChildFailure(view, job.failedReason) : view;
  }

  /**
   * A curate job whose image stages failed in the other pool fails with BullMQ's bare "child <key>
   * failed"; the child's own typed error (canceled, bad input, ...) is what the client needs.
   */
  private async withChildFailure(view: JobView, failedReason: string | undefined): Promise<JobView> {
    const childKey = /^child (\S+) failed$/.exec(failedReason?.trim() ?? '')?.[1];
    if (!childKey) return view;
    const child = await Job.fromId<JobData, JobReturn>(this.queues.image, childKey.slice(childKey.lastIndexOf(':') + 1));
    if (!child?.failedReason) return view;
    const error = decodeFailure(child.failedReason);
    return { ...view, status: error.code === 'canceled' ? 'canceled' : 'failed', error };
  }

  async getMany(ids: string[]): Promise<Array<JobView | null>> {
    return Promise.all(ids.map((id) => this.get(id)));
  }

  /**
   * Cancels a job. BullMQ's own cancel reaches only the worker object holding the job, so the
   * request is published to every worker (the holder aborts it) and left as a marker that a
   * worker picking the job up later honours.
   */
  async cancel(id: string): Promise<JobView | null> {
    const job = await this.findJob(id);
    if (!job) return null;
    const state = await job.getState();
    const view = toJobView(job, state, this.links);
    if (view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled') {
      throw new CuratorError('job_not_cancelable', `Job ${id} already ${view.status}`);
    }
    const k = keys(this.options.prefix);
    const redis = this.options.connection;
    await redis.set(k.cancelMarker(id), '1', 'EX', this.options.ttlSeconds);
    await redis.publish(k.cancelChannel, id);
    return view;
  }

  async depths(): Promise<QueueDepth[]> {
    const states = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'waiting-children'] as const;
    const out: QueueDepth[] = [];
    for (const pool of pools) {
      const counts = await this.queues[pool].getJobCounts(...states);
      for (const state of states) out.push({ queue: pool, state, count: counts[state] ?? 0 });
    }
    return out;
  }

  workers(): Promise<WorkerHeartbeat[]> {
    return readHeartbeats(this.options.connection, this.options.prefix);
  }

  async close(): Promise<void> {
    await Promise.all(pools.map((pool) => this.queues[pool].close()));
  }
}
