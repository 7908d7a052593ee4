import type { Redis } from 'ioredis';
import type { JobType } from '@curator/contracts';
import type { Env } from '@curator/config';
import { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import type { GatewayMetrics, Logger } from '@curator/telemetry';
import { buildGateway, type Gateway } from './app.ts';
import { JobChangeNotifier } from './events.ts';

export interface GatewayServer {
  app: Gateway;
  url: string;
  close(): Promise<void>;
}

/** Builds the gateway on shared connections and listens on HOST:PORT. */
export async function startGatewayServer(deps: { env: Env; redis: Redis; storage: ObjectStorage; metrics: GatewayMetrics; logger: Logger; jobTypes?: readonly JobType[] }): Promise<GatewayServer> {
  const { env, redis } = deps;
  const queues = new JobQueues({ connection: redis, prefix: env.QUEUE_PREFIX, attempts: env.JOB_ATTEMPTS, backoffMs: env.JOB_BACKOFF_MS, ttlSeconds: env.JOB_TTL_SECONDS });
  const notifier = new JobChangeNotifier(redis, env.QUEUE_PREFIX);
  const app = await buildGateway({ env, queues, storage: deps.storage, metrics: deps.metrics, notifier, logger: deps.logger, ...(deps.jobTypes ? { jobTypes: deps.jobTypes } : {}) });
  const url = await app.listen({ host: env.HOST, port: env.PORT });
  deps.logger.info({ url, docs: `${url}/docs` }, 'gateway listening');
  return {
    app,
    url,
    async close() {
      await app.close();
      await notifier.close();
      await queues.close();
    },
  };
}
