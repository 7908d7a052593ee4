import { hostname } from 'node:os';
import { availableJobTypes, type JobType, type WorkerHeartbeat } from '@curator/contracts';
import type { Env } from '@curator/config';
import { modelOverridesFromEnv } from '@curator/models';
import { createRedis, queueSettingsFromEnv, startJobRuntime } from '@curator/queue';
import { KeyStore, contentPolicyFromEnv, policyForOwner } from '@curator/access';
import { createArticleExtractor } from '@curator/articles';
import type { ObjectStorage } from '@curator/storage';
import type { Logger, WorkerMetrics } from '@curator/telemetry';
import { ModelHost } from './model-host.ts';
import { createHandlers } from './handlers.ts';
import { metricsHooks } from './metrics-hooks.ts';
import { combineHooks, startWorkerWebhooks, webhookSecretsFrom, type WorkerWebhooks } from './webhooks.ts';

export interface WorkerDependencies {
  env: Env;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Job types this build runs (default: every available one). */
  jobTypes?: readonly JobType[];
}

export interface RunningWorker {
  id: string;
  models: ModelHost;
  heartbeat(): WorkerHeartbeat;
  /** Stops taking jobs, finishes (or hands back) those in flight, unloads the models. */
  close(): Promise<void>;
}

/** Loads the models of its pools, then takes jobs from them until closed. */
export async function startWorker(deps: WorkerDependencies): Promise<RunningWorker> {
  const { env, metrics, logger } = deps;
  const models = await ModelHost.load({
    pools: env.WORKER_POOLS,
    jobTypes: deps.jobTypes ?? availableJobTypes,
    modelsDir: env.MODELS_DIR,
    set: env.CURATOR_MODELS,
    overrides: modelOverridesFromEnv(env),
    device: env.CURATOR_DEVICE,
    deviceId: env.CURATOR_DEVICE_ID,
    logger,
    metrics,
    batching: { maxBatchSize: env.BATCH_MAX_SIZE, maxDelayMs: env.BATCH_MAX_DELAY_MS },
    precision: env.CURATOR_PRECISION,
    sessionOptions: env.CURATOR_SESSION_OPTIONS,
    sentimentPreprocessing: env.SENTIMENT_PREPROCESSING,
  });
  // Keys' own content policies are read from Redis when a curate job reaches its image.
  const accessRedis = createRedis(env.REDIS_URL, { maxRetriesPerRequest: 2, commandTimeout: 5000 });
  accessRedis.on('error', () => undefined);
  // Pages are parsed in threads of their own, each under the deadline and shape limits of the config.
  const extractor = createArticleExtractor({ timeoutMs: env.EXTRACT_TIMEOUT_MS, maxDepth: env.EXTRACT_MAX_DEPTH, maxNodes: env.EXTRACT_MAX_NODES, threads: env.EXTRACT_THREADS });
  let webhooks: WorkerWebhooks | null = null;
  try {
    // Webhook messages of every job, whatever pool it ran in, signed with its owner's secret.
    webhooks = await startWorkerWebhooks({ env, storage: deps.storage, logger, secrets: webhookSecretsFrom(env, new KeyStore(accessRedis, env.QUEUE_PREFIX)) });
    const handlers = createHandlers({
      contentPolicy: policyForOwner(contentPolicyFromEnv(env), new KeyStore(accessRedis, env.QUEUE_PREFIX)),
      models,
      modelSet: env.CURATOR_MODELS,
      storage: deps.storage,
      metrics,
      articles: {
        fetch: { timeoutMs: env.FETCH_TIMEOUT_MS, maxBytes: env.FETCH_MAX_BYTES, maxRedirects: env.FETCH_MAX_REDIRECTS, allowPrivate: env.FETCH_ALLOW_PRIVATE, allowedPorts: env.FETCH_ALLOWED_PORTS },
        extractor,
        maxChars: env.MAX_ARTICLE_CHARS,
      },
    });
    metrics.workerInfo.set({ device: models.device.device, host: hostname(), pools: env.WORKER_POOLS.join(',') }, 1);
    const runtime = await startJobRuntime({
      settings: queueSettingsFromEnv(env),
      pools: env.WORKER_POOLS,
      handlers: Object.fromEntries(Object.entries(handlers).filter(([type]) => models.jobTypes.includes(type as JobType))),
      concurrency: env.WORKER_CONCURRENCY,
      lockMs: env.WORKER_LOCK_MS,
      shutdownGraceMs: env.WORKER_SHUTDOWN_GRACE_MS,
      heartbeatMs: env.WORKER_HEARTBEAT_MS,
      describe: () => ({ jobTypes: models.jobTypes, device: models.device.device, models: models.describe() }),
      logger,
      hooks: combineHooks(metricsHooks(metrics, models), webhooks.hooks),
    });
    logger.info({ id: runtime.id, pools: env.WORKER_POOLS, jobTypes: models.jobTypes, device: models.device.device, concurrency: env.WORKER_CONCURRENCY, models: env.CURATOR_MODELS }, 'worker ready');
    let closing: Promise<void> | null = null;
    return {
      id: runtime.id,
      models,
      heartbeat: () => runtime.heartbeat(),
      close: () =>
        (closing ??= (async () => {
          await runtime.close();
          await webhooks?.close();
          await models.close();
          await extractor.close();
          accessRedis.disconnect();
          logger.info({ id: runtime.id }, 'worker stopped');
        })()),
    };
  } catch (error) {
    await webhooks?.close();
    await models.close();
    await extractor.close();
    accessRedis.disconnect();
    throw error;
  }
}
