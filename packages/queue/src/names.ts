import { randomUUID } from 'node:crypto';
import { jobTypes, type JobType } from '@curator/contracts';

/** Worker pools, one BullMQ queue each: image workers scale apart from text workers. */
export const pools = ['text', 'image'] as const;
export type Pool = (typeof pools)[number];

/** The pool that runs each job type (the one place this mapping is stated). */
export const poolOfJobType: Record<JobType, Pool> = {
  curate: 'text',
  classify: 'text',
  summarize: 'text',
  headline: 'text',
  'text-to-image': 'image',
};

export function poolForJobType(type: JobType): Pool {
  return poolOfJobType[type];
}

export function jobTypesForPool(pool: Pool): JobType[] {
  return jobTypes.filter((type) => poolOfJobType[type] === pool);
}

/** Job ids are random UUIDs: unguessable, and never one of BullMQ's own key names (`meta`, `events`, ...). */
const jobIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newJobId(): string {
  return randomUUID();
}

export function isJobId(value: string): boolean {
  return jobIdPattern.test(value);
}

/** A job's stages that run in another pool run as this child job (one per pool). */
export function childJobId(parentId: string, pool: Pool): string {
  return `${parentId}-${pool}`;
}

/** The parent of a child job id, or null for a top-level job. */
export function parentOfChildId(id: string): string | null {
  for (const pool of pools) {
    const suffix = `-${pool}`;
    if (id.endsWith(suffix) && isJobId(id.slice(0, -suffix.length))) return id.slice(0, -suffix.length);
  }
  return null;
}

/** BullMQ's lock of a job being processed (renewed every half lock): for diagnostics and tests. */
export function jobLockKey(prefix: string, pool: Pool, jobId: string): string {
  return `${prefix}:${pool}:${jobId}:lock`;
}

/** Redis keys outside BullMQ's own, all under the deployment's prefix. */
export function keys(prefix: string) {
  return {
    workersIndex: `${prefix}:workers`,
    worker: (id: string) => `${prefix}:worker:${id}`,
    cancelChannel: `${prefix}:cancel`,
    cancelMarker: (jobId: string) => `${prefix}:cancel:${jobId}`,
    stageCache: (hash: string) => `${prefix}:stage-cache:${hash}`,
    rateLimit: `${prefix}:rate-limit:`,
    /** An owner's jobs (`type/id`, scored by creation time): `GET /jobs` lists from it. */
    ownerJobs: (owner: string) => `${prefix}:jobs:owner:${owner}`,
    /** Every top-level job, the same way: what an admin lists. */
    allJobs: `${prefix}:jobs:all`,
    /** Finished jobs by the time their ttl runs out (see `reapExpiredJobs`). */
    expiry: `${prefix}:jobs:expiry`,
    /** A short lock held while an Idempotency-Key's first submission is under way. */
    idempotencyLock: (hash: string) => `${prefix}:idempotency:${hash}`,
    /** The deployment's secret salt of job ids derived from Idempotency-Keys. */
    idempotencySalt: `${prefix}:idempotency-salt`,
    /** A retry under way (one at a time per job). */
    retryLock: (jobId: string) => `${prefix}:retry:${jobId}`,
    /** Feedback on one job (a list, removed with the job). */
    jobFeedback: (jobId: string) => `${prefix}:feedback:job:${jobId}`,
    /** Every feedback entry, oldest first: what `curator feedback export` reads. */
    feedbackStream: `${prefix}:feedback`,
  };
}
