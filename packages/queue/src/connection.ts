import { Redis, type RedisOptions } from 'ioredis';
import { CuratorError } from '@curator/contracts';

export const defaultRedisUrl = 'redis://127.0.0.1:6379';

export interface RedisErrorLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/**
 * A connection for BullMQ workers and blocking reads (QueueEvents): no per-request retry limit, so
 * a worker rides out a Redis restart and carries on.
 */
export function createRedis(url: string | undefined, options: RedisOptions = {}): Redis {
  return new Redis(url ?? defaultRedisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
}

/**
 * The gateway's connection for commands: every call ends within `commandTimeoutMs`. While Redis is
 * unreachable commands fail at once (no offline queue) instead of waiting for it to come back, so
 * an HTTP request is answered 503 rather than left hanging, and nothing is enqueued behind the
 * client's back after it gave up.
 *
 * Auto-pipelining: the commands issued in one turn of the event loop (every request's reads of that
 * turn, a job's hash and state) go to Redis in one socket write. One write per command was the
 * largest single cost of reading a job under load (a third of its CPU in `writeUtf8String`). Commands
 * still run in the order they were issued, except that one ioredis never pipelines (`multi`, `info`,
 * `script`, `select`, `client`, ...) can overtake pipelined ones of the same turn: a caller that needs
 * an order between commands awaits the first, as every caller here does.
 */
export function createCommandRedis(url: string | undefined, commandTimeoutMs: number): Redis {
  return new Redis(url ?? defaultRedisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    enableAutoPipelining: true,
    connectTimeout: Math.max(1000, commandTimeoutMs),
    enableReadyCheck: true,
    // Reconnect quickly at first, then every 2 s while Redis stays away.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
}

/**
 * A connection for one-shot tools (the CLI's `keys` and `feedback` commands): connected first, so a
 * Redis that is away is said at once (`queue_unavailable` naming where it tried), and every command
 * ends within `timeoutMs` instead of waiting for it to come back.
 */
export async function connectToolRedis(url: string | undefined, timeoutMs = 5000): Promise<Redis> {
  const target = url ?? defaultRedisUrl;
  const redis = new Redis(target, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: timeoutMs, commandTimeout: timeoutMs, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new CuratorError('queue_unavailable', `Cannot reach Redis at ${new URL(target).host} (REDIS_URL): ${(error as Error).message}`, { retryable: true, cause: error });
  }
  return redis;
}

/**
 * Logs a connection's trouble once per outage (ioredis emits an error for every reconnect attempt)
 * and says when it is back. Without an `error` listener ioredis prints each one to stderr.
 */
export function logRedisErrors(redis: Redis, log: RedisErrorLog, name: string): void {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: error, connection: name }, 'Redis unreachable');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ connection: name }, 'Redis reachable again');
  });
}
