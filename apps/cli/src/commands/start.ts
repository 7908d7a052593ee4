import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { availableJobTypes } from '@curator/contracts';
import { loadEnv, type Env } from '@curator/config';
import { jobTypesForPool } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv } from '@curator/storage';
import { createLogger, createMetrics, type Logger } from '@curator/telemetry';
import type { ModelRole } from '@curator/models';
import { startGatewayServer } from '@curator/gateway';
import { startWorker, rolesForJobType } from '@curator/worker';
import { prepareForStart } from './models.ts';

function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Uses REDIS_URL, or 127.0.0.1:6379 when something answers there, or starts a local redis-server. */
async function ensureRedis(env: Env, logger: Logger): Promise<{ url: string; child: ChildProcess | null }> {
  if (env.REDIS_URL) return { url: env.REDIS_URL, child: null };
  const url = 'redis://127.0.0.1:6379';
  if (await portAnswers('127.0.0.1', 6379)) return { url, child: null };
  const dir = resolve(env.DATA_DIR, 'redis');
  await mkdir(dir, { recursive: true });
  logger.info({ dir }, 'no Redis on 127.0.0.1:6379: starting a local redis-server');
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', '6379', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'ENOENT'
            ? 'No Redis answers on 127.0.0.1:6379 and redis-server is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) or set REDIS_URL.'
            : `Could not start redis-server: ${error.message}`,
        ),
      ),
    ),
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await Promise.race([portAnswers('127.0.0.1', 6379), failed]);
    if (up) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('redis-server did not start listening on 127.0.0.1:6379 within 10 s');
}

/**
 * Makes the models of the roles this process serves ready in MODELS_DIR: the pinned checkpoints
 * pulled and converted once (or converted files from CURATOR_MODELS_EXPORTS), or the test set.
 */
async function ensureModels(env: Env, roles: ModelRole[], logger: Logger): Promise<void> {
  await prepareForStart(env, roles, logger);
}

/**
 * The embedded S3 server is a development dependency of the CLI: production images do not install it, so it is
 * loaded only when `start` needs it, and its absence says what to do.
 */
async function loadEmbeddedS3(): Promise<typeof import('@curator/embedded-s3')> {
  try {
    return await import('@curator/embedded-s3');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error('S3_ENDPOINT is not set and this installation has no embedded S3 server (@curator/embedded-s3 is a development dependency, left out of production images): set S3_ENDPOINT and the other S3_* variables.');
  }
}

/** `npm start`: Redis (found or started), S3 (embedded unless S3_ENDPOINT), models, gateway and worker in one process. */
export async function startAll(parsed: Env): Promise<{ close(): Promise<void>; url: string }> {
  let env = parsed;
  const logger = createLogger('curator', env.LOG_LEVEL);
  // Models first: without them nothing else is worth starting.
  const jobTypes = env.WORKER_POOLS.flatMap((pool) => jobTypesForPool(pool)).filter((type) => availableJobTypes.includes(type));
  const roles = [...new Set(jobTypes.flatMap((type) => rolesForJobType[type]))];
  await ensureModels(env, roles, logger);

  // Whatever was started is stopped again if a later step fails, so a failed start exits.
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const redisInfo = await ensureRedis(env, logger);
    cleanups.push(() => redisInfo.child?.kill('SIGTERM'));
    // The gateway and the worker each open their own connections to it.
    env = { ...env, REDIS_URL: redisInfo.url };
    if (!env.S3_ENDPOINT) {
      const directory = resolve(env.DATA_DIR, 's3');
      await mkdir(directory, { recursive: true });
      const { startEmbeddedS3, embeddedS3Credentials } = await loadEmbeddedS3();
      const s3 = await startEmbeddedS3({ directory, port: env.S3_EMBEDDED_PORT, host: '127.0.0.1', bucket: env.S3_BUCKET });
      cleanups.push(() => s3.close());
      logger.info({ endpoint: s3.endpoint, directory }, 'embedded S3 server started');
      env = { ...env, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId, S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey };
    }
    const storageLogger = logger.child({ component: 'storage' });
    const storage = createObjectStorage({
      ...storageOptionsFromEnv(env),
      // The full cause (with the store's address) goes to this log only; jobs and clients get a message without it.
      onRetry: ({ operation, key, attempt, retryInMs, error }) => storageLogger.warn({ operation, key, attempt, retryInMs, err: error }, 'object storage did not answer; retrying'),
    });
    cleanups.push(() => storage.close());
    await storage.ensureBucket();
    // One registry for both halves: one /metrics shows the whole system.
    const metrics = createMetrics({ process: 'all', defaultLabels: { service: 'curator' } });
    const worker = await startWorker({ env, storage, metrics, logger: logger.child({ component: 'worker' }) });
    cleanups.push(() => worker.close());
    const gateway = await startGatewayServer({ env, storage, metrics, logger: logger.child({ component: 'gateway' }) });
    cleanups.push(() => gateway.close());
    logger.info({ url: gateway.url, docs: `${gateway.url}/docs`, models: env.CURATOR_MODELS, device: worker.models.device.device }, 'Curator is up');
    return { url: gateway.url, close: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Run everything in one process: gateway, worker, embedded S3, and Redis when none answers')
    .action(async () => {
      const running = await startAll(loadEnv());
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void running.close().then(() => process.exit(0));
        });
      }
    });
}
