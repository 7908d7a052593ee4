// The gateway on its own (docker/gateway.Dockerfile): `node apps/gateway/src/main.ts`.
import { loadEnv } from '@curator/config';
import { createObjectStorage, storageOptionsFromEnv } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { startGatewayServer } from './server.ts';

const env = loadEnv();
const logger = createLogger('gateway', env.LOG_LEVEL);
const storage = createObjectStorage(storageOptionsFromEnv(env));
await storage.ensureBucket();
const server = await startGatewayServer({ env, storage, metrics: createMetrics({ process: 'gateway', defaultLabels: { service: 'gateway' } }), logger });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    logger.info({ signal }, 'shutting down');
    await server.close();
    storage.close();
  });
}
