import type { Redis } from 'ioredis';
import { workerHeartbeatSchema, type WorkerHeartbeat } from '@curator/contracts';
import { keys } from './names.ts';

/** A worker that has not written its heartbeat for this many periods counts as gone. */
export const heartbeatMissedPeriods = 3;

export async function publishHeartbeat(redis: Redis, prefix: string, heartbeat: WorkerHeartbeat, periodMs: number): Promise<void> {
  const k = keys(prefix);
  const ttl = periodMs * heartbeatMissedPeriods;
  await redis
    .multi()
    .set(k.worker(heartbeat.id), JSON.stringify(heartbeat), 'PX', ttl)
    .zadd(k.workersIndex, Date.now() + ttl, heartbeat.id)
    .exec();
}

export async function removeHeartbeat(redis: Redis, prefix: string, workerId: string): Promise<void> {
  const k = keys(prefix);
  await redis.multi().del(k.worker(workerId)).zrem(k.workersIndex, workerId).exec();
}

/** Live workers; expired entries are pruned from the index as they are found. */
export async function readHeartbeats(redis: Redis, prefix: string): Promise<WorkerHeartbeat[]> {
  const k = keys(prefix);
  const now = Date.now();
  await redis.zremrangebyscore(k.workersIndex, '-inf', String(now));
  const ids = await redis.zrange(k.workersIndex, '0', '-1');
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map((id) => k.worker(id)));
  const out: WorkerHeartbeat[] = [];
  for (const value of values) {
    if (!value) continue;
    const parsed = workerHeartbeatSchema.safeParse(JSON.parse(value));
    if (parsed.success) out.push(parsed.data);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
