import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv, type Env } from '@curator/config';
import { createRedis } from '@curator/queue';
import { embeddedS3Credentials, startEmbeddedS3, type EmbeddedS3 } from '@curator/embedded-s3';
import type { ModelRole } from '@curator/models';
import type { Redis } from 'ioredis';

const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** Generated test models shared by every test file (written once, atomically). */
export const testModelsDir = resolve(repoRoot, '.cache', 'models');

export async function testModels(roles: readonly ModelRole[]): Promise<string> {
  // Loaded only by tests that need models: gateway and queue tests do not.
  const { ensureTestModels } = await import('@curator/models');
  await ensureTestModels(testModelsDir, roles);
  return testModelsDir;
}

export interface TestEnvironment {
  env: Env;
  /** Variables for a child process with the same settings. */
  vars: Record<string, string>;
  redis: Redis;
  s3: EmbeddedS3;
  dataDir: string;
  /** Removes this test's Redis keys and temporary files, stops S3. */
  close(): Promise<void>;
}

/**
 * A configuration of its own for one test: a unique queue prefix in the shared Redis, an embedded S3 server on
 * a free port, ports chosen by the OS, and the generated models (`roles: []` for a test that needs none).
 */
export async function testEnvironment(options: { roles?: readonly ModelRole[]; vars?: Record<string, string> } = {}): Promise<TestEnvironment> {
  const prefix = `curator-test-${randomUUID().slice(0, 8)}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'curator-test-'));
  const s3 = await startEmbeddedS3({ directory: join(dataDir, 's3'), port: 0, host: '127.0.0.1' });
  const roles = options.roles ?? ['sentiment', 'genre', 'summarizer', 'headline', 'image'];
  const modelsDir = roles.length > 0 ? await testModels(roles) : testModelsDir;
  // The developer's REDIS_URL (if any) still picks the Redis; everything else is this test's own.
  const outside = loadEnv();
  const vars: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    REDIS_URL: outside.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: prefix,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: 'curator-test',
    S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey,
    DATA_DIR: dataDir,
    MODELS_DIR: modelsDir,
    CURATOR_MODELS: 'test',
    CURATOR_DEVICE: 'cpu',
    WORKER_METRICS_PORT: '0',
    WORKER_HEARTBEAT_MS: '500',
    JOB_BACKOFF_MS: '50',
    ...options.vars,
  };
  const env = loadEnv(vars);
  const redis = createRedis(vars.REDIS_URL);
  return {
    env,
    vars,
    redis,
    s3,
    dataDir,
    async close() {
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
      await s3.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
}

/** Polls `read` until `done` holds (tests assert behaviour, so the limit is generous, not a timing claim). */
export async function waitFor<T, S extends T>(read: () => Promise<T>, done: (value: T) => value is S, what: string, limitMs?: number): Promise<S>;
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, limitMs?: number): Promise<T>;
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}
