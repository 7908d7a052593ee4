import type { JobsOptions } from 'bullmq';
import type { Env } from '@curator/config';

/** What both sides of the queue agree on: where, under which prefix, and how jobs retry and expire. */
export interface QueueSettings {
  redisUrl: string | undefined;
  prefix: string;
  /** Attempts per job; a stall (a worker that died mid-job) uses one too. */
  attempts: number;
  /** First retry delay, doubling each attempt. */
  backoffMs: number;
  /** How long finished jobs and their results are kept. */
  ttlSeconds: number;
}

export function queueSettingsFromEnv(env: Pick<Env, 'REDIS_URL' | 'QUEUE_PREFIX' | 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS' | 'JOB_TTL_SECONDS'>): QueueSettings {
  return { redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, attempts: env.JOB_ATTEMPTS, backoffMs: env.JOB_BACKOFF_MS, ttlSeconds: env.JOB_TTL_SECONDS };
}

/**
 * BullMQ removes finished jobs by age only as a backstop, past the longest ttl a job may ask for:
 * its age rule is not per job (a job finishing with `removeOnComplete: { age }` removes every
 * finished job older than that age), so each job's own ttl is kept by `reapExpiredJobs` instead.
 */
export const finishedJobBackstopSeconds = 366 * 24 * 3600;

/** How long a job is kept after it finished: its own `ttlSeconds`, or the deployment's. */
export function jobTtlSeconds(settings: QueueSettings, request: { ttlSeconds?: number | undefined }): number {
  return request.ttlSeconds ?? settings.ttlSeconds;
}

/** The options of every job, top-level or child (the one place they are stated). */
export function jobOptions(settings: QueueSettings, id: string): JobsOptions {
  return {
    jobId: id,
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: { age: finishedJobBackstopSeconds },
    removeOnFail: { age: finishedJobBackstopSeconds },
  };
}

/**
 * A child job (another job's stages in another pool). When it fails for good the parent resumes
 * and reads the child's own error (`getIgnoredChildrenFailures`) instead of failing with BullMQ's
 * bare "child failed".
 */
export function childJobOptions(settings: QueueSettings, id: string, parent: { id: string; queue: string }): JobsOptions {
  return { ...jobOptions(settings, id), parent, continueParentOnFailure: true };
}

/**
 * Stall settings follow the lock: the lock is renewed every half lock, and stalls are checked
 * every half lock, so a job whose worker died moves on within 0.5 to 1.5 locks. BullMQ's own stall
 * limit is set to the attempts: Curator counts stalls against the job's attempts itself (see the
 * runtime) and fails the job with `worker_lost` before BullMQ's limit would be reached.
 */
export function workerLockOptions(lockMs: number, attempts: number) {
  return { lockDuration: lockMs, lockRenewTime: Math.floor(lockMs / 2), stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: attempts };
}
