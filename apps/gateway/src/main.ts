// The gateway on its own (docker/gateway.Dockerfile): `node apps/gateway/src/main.ts`.
import { loadEnv } from '@curator/config';
import { createRedis } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { startGatewayServer } from './service.ts';

const env = loadEnv();
const logger = createLogger('gateway', env.LOG_LEVEL);
const redis = createRedis(env.REDIS_URL);
const storage = createObjectStorage(storageOptionsFromEnv(env));
await storage.ensureBucket();
const server = await startGatewayServer({ env, redis, storage, metrics: createMetrics({ process: 'gateway', defaultLabels: { service: 'gateway' } }), logger });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    logger.info({ signal }, 'shutting down');
    await server.close();
    storage.close();
    redis.disconnect();
  });
}
