import { Redis } from 'ioredis';
import { CuratorError } from '@curator/contracts';
import { KeyStore } from './keys.ts';

/**
 * A key store on a connection of its own (for `curator keys`): commands time out instead of
 * waiting for a Redis that is away, and the first one says where it tried.
 */
export async function connectKeyStore(options: { redisUrl: string | undefined; prefix: string; timeoutMs?: number }): Promise<{ keys: KeyStore; close(): void }> {
  const url = options.redisUrl ?? 'redis://127.0.0.1:6379';
  const timeoutMs = options.timeoutMs ?? 5000;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: timeoutMs, commandTimeout: timeoutMs, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new CuratorError('queue_unavailable', `Cannot reach Redis at ${new URL(url).host} (REDIS_URL): ${(error as Error).message}`, { retryable: true, cause: error });
  }
  return { keys: new KeyStore(redis, options.prefix), close: () => redis.disconnect() };
}
