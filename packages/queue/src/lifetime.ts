import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobType } from '@curator/contracts';
import { keys, type Pool } from './names.ts';

/** A top-level job as the listing indexes and the expiry schedule name it. */
export interface JobEntry {
  pool: Pool;
  owner: string;
  type: JobType;
  id: string;
}

/** The member of an owner's (and the admin's) job index: type first, so a type filter reads no job. */
export const indexMember = (entry: Pick<JobEntry, 'type' | 'id'>) => `${entry.type}/${entry.id}`;

export function parseIndexMember(member: string): { type: JobType; id: string } {
  const slash = member.indexOf('/');
  return { type: member.slice(0, slash) as JobType, id: member.slice(slash + 1) };
}

const expiryMember = (entry: JobEntry) => JSON.stringify([entry.pool, entry.owner, entry.type, entry.id]);

function parseExpiryMember(member: string): JobEntry | null {
  try {
    const [pool, owner, type, id] = JSON.parse(member) as [Pool, string, JobType, string];
    return { pool, owner, type, id };
  } catch {
    return null;
  }
}

/** A finished job is removed at `expiresAtMs` (its ttl after it finished), with its index entries and feedback. */
export async function scheduleRemoval(redis: Redis, prefix: string, entry: JobEntry, expiresAtMs: number): Promise<void> {
  await redis.zadd(keys(prefix).expiry, expiresAtMs, expiryMember(entry));
}

/** A retried job lives again: it is not removed until it finished once more. */
export async function cancelRemoval(redis: Redis, prefix: string, entry: JobEntry): Promise<void> {
  await redis.zrem(keys(prefix).expiry, expiryMember(entry));
}

/**
 * Removes up to `limit` jobs whose ttl ran out, each with its child jobs, its entries in the
 * listing indexes and its feedback list (the global feedback stream keeps its entries for export).
 * Any number of processes may reap at once: each entry is claimed by the one whose ZREM removed it.
 * Returns how many jobs it removed.
 */
export async function reapExpiredJobs(redis: Redis, prefix: string, queues: Record<Pool, Queue>, now = Date.now(), limit = 100): Promise<number> {
  const k = keys(prefix);
  const due = await redis.zrangebyscore(k.expiry, '-inf', String(now), 'LIMIT', 0, limit);
  let removed = 0;
  for (const member of due) {
    if ((await redis.zrem(k.expiry, member)) !== 1) continue;
    const entry = parseExpiryMember(member);
    if (!entry) continue;
    await queues[entry.pool].remove(entry.id, { removeChildren: true });
    await redis.multi().zrem(k.ownerJobs(entry.owner), indexMember(entry)).zrem(k.allJobs, indexMember(entry)).del(k.jobFeedback(entry.id)).exec();
    removed++;
  }
  return removed;
}
