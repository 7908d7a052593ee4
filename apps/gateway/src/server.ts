import type { JobType } from '@curator/contracts';
import type { Env } from '@curator/config';
import { JobQueues, queueSettingsFromEnv, type JobLinks } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import type { GatewayMetrics, Logger } from '@curator/telemetry';
import { buildGateway, type Gateway } from './app.ts';

export interface GatewayServer {
  app: Gateway;
  url: string;
  close(): Promise<void>;
}

/** Links in responses: under PUBLIC_URL when set, else relative. */
export function jobLinks(publicUrl: string | undefined): JobLinks {
  const base = publicUrl?.replace(/\/$/, '') ?? '';
  return (id) => ({ self: `${base}/jobs/${id}`, events: `${base}/jobs/${id}/events` });
}

/** The gateway's side of the queues, on a connection whose calls are bounded by REDIS_COMMAND_TIMEOUT_MS. */
export function createJobQueues(env: Env, logger: Logger): JobQueues {
  return new JobQueues({ settings: queueSettingsFromEnv(env), commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS, logger, links: jobLinks(env.PUBLIC_URL) });
}

/** Builds the gateway and listens on HOST:PORT. */
export async function startGatewayServer(deps: { env: Env; storage: ObjectStorage; metrics: GatewayMetrics; logger: Logger; jobTypes?: readonly JobType[] }): Promise<GatewayServer> {
  const { env } = deps;
  const queues = createJobQueues(env, deps.logger);
  try {
    // Serve even while Redis is away (requests that need it answer 503), but start with it when it is there.
    await queues.ready().catch((error: Error) => deps.logger.warn({ err: error }, 'starting without Redis'));
    const app = await buildGateway({ env, queues, storage: deps.storage, metrics: deps.metrics, logger: deps.logger, ...(deps.jobTypes ? { jobTypes: deps.jobTypes } : {}) });
    const url = await app.listen({ host: env.HOST, port: env.PORT });
    deps.logger.info({ url, docs: `${url}/docs` }, 'gateway listening');
    return {
      app,
      url,
      async close() {
        await app.close();
        await queues.close();
      },
    };
  } catch (error) {
    await queues.close();
    throw error;
  }
}
