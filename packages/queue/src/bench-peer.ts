// `@curator/queue/bench-peer`: for benchmarks only, not the application's API (the gateway and workers use
// the package's main export). The issue's reference for `POST /jobs` is "a minimal Fastify + Queue.add route
// with the same job options"; BullMQ stays inside this package, so the bench's minimal route gets its
// `Queue.add` from here, with the job options, ids and stored data stated once (settings.ts, names.ts).
import { Queue } from 'bullmq';
import type { JobRequest } from '@curator/contracts';
import { pools, poolForJobType, newJobId, type Pool } from './names.ts';
import { anonymousOwner, type JobData, type JobReturn } from './job-data.ts';
import { jobOptions, type QueueSettings } from './settings.ts';
import { createRedis } from './connection.ts';

export interface QueueAddPeer {
  /**
   * One BullMQ `Queue.add` (one round trip, BullMQ's add script) for one request, in its job type's pool,
   * with Curator's job options and a new job id; no validation, no listing entries, no group commit.
   */
  add(request: JobRequest): Promise<{ id: string }>;
  close(): Promise<void>;
}

/**
 * BullMQ queues of both pools over one plain connection, as a minimal route would have it: ioredis' defaults
 * plus `commandTimeoutMs`, without the gateway's auto-pipelining (connection.ts), so each add is its own
 * socket write.
 */
export async function createQueueAddPeer(settings: QueueSettings, commandTimeoutMs: number): Promise<QueueAddPeer> {
  const redis = createRedis(settings.redisUrl, { commandTimeout: commandTimeoutMs });
  redis.on('error', () => undefined);
  if (redis.status !== 'ready') await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const make = (pool: Pool) => new Queue<JobData, JobReturn>(pool, { connection: redis, prefix: settings.prefix });
  const queues = Object.fromEntries(pools.map((pool) => [pool, make(pool)])) as Record<Pool, Queue<JobData, JobReturn>>;
  return {
    async add(request) {
      const id = newJobId();
      const submittedAt = new Date().toISOString();
      const data: JobData = { request, submittedAt, owner: anonymousOwner, queuedAt: submittedAt };
      await queues[poolForJobType(request.type)].add(request.type, data, jobOptions(settings, id));
      return { id };
    },
    async close() {
      await Promise.all(Object.values(queues).map((queue) => queue.close().catch(() => undefined)));
      redis.disconnect();
    },
  };
}
