import { Redis, type RedisOptions } from 'ioredis';

export const defaultRedisUrl = 'redis://127.0.0.1:6379';

/** An ioredis connection as BullMQ wants it (no per-request retry limit for blocking workers). */
export function createRedis(url: string | undefined, options: RedisOptions = {}): Redis {
  return new Redis(url ?? defaultRedisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
}
