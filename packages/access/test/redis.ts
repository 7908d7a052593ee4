import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadEnv } from '@curator/config';

/** The developer's Redis (REDIS_URL or 127.0.0.1:6379) under a prefix of this test's own, removed afterwards. */
export function testRedis(): { redis: Redis; prefix: string; close(): Promise<void> } {
  const redis = new Redis(loadEnv().REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `curator-test-${randomUUID().slice(0, 8)}`;
  return {
    redis,
    prefix,
    async close() {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
