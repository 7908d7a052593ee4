// A worker on its own (docker/worker.Dockerfile): `node apps/worker/src/main.ts`.
import { loadEnv } from '@curator/config';
import { createObjectStorage, storageOptionsFromEnv } from '@curator/storage';
import { createLogger, createMetrics, startMetricsServer } from '@curator/telemetry';
import { startWorker } from './worker.ts';

const env = loadEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
const metrics = createMetrics({ process: 'worker', defaultLabels: { service: 'worker' } });
// Storage retries ride out S3 outages; a job's error never names the endpoint, the log says why.
const storage = createObjectStorage({
  ...storageOptionsFromEnv(env),
  onRetry: ({ operation, key, attempt, retryInMs, error }) => logger.warn({ operation, key, attempt, retryInMs, err: error }, 'object storage did not answer; retrying'),
});
let ready = false;
const metricsServer = env.WORKER_METRICS_PORT > 0 ? await startMetricsServer(metrics.registry, env.WORKER_METRICS_PORT, '0.0.0.0', { isHealthy: () => ready }) : null;
if (metricsServer) logger.info({ port: metricsServer.port }, 'metrics listening');
try {
  await storage.ensureBucket();
  const worker = await startWorker({ env, storage, metrics, logger });
  ready = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, async () => {
      logger.info({ signal, graceMs: env.WORKER_SHUTDOWN_GRACE_MS }, 'stopping: finishing the jobs in flight');
      ready = false;
      await worker.close();
      await metricsServer?.close();
      storage.close();
    });
  }
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  await metricsServer?.close();
  storage.close();
  process.exitCode = 1;
}
