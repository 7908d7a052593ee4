import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { keys, type JobQueues } from '@curator/queue';

/** Routes probes and scrapers call, never limited. Compared by route, so `/metrics?x=1` is exempt too. */
const unlimitedRoutes = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * `RATE_LIMIT_PER_MINUTE` per client IP, counted in Redis so that every gateway replica shares one
 * count. The client IP is the socket's unless TRUST_PROXY names the proxies in front. If Redis
 * does not answer, requests pass (the routes that need Redis answer 503 themselves).
 */
export const rateLimiting = fp(
  async (app: FastifyInstance, options: { perMinute: number; queues: JobQueues; prefix: string }) => {
    if (options.perMinute <= 0) return;
    await app.register(rateLimit, {
      max: options.perMinute,
      timeWindow: '1 minute',
      redis: options.queues.redis,
      nameSpace: keys(options.prefix).rateLimit,
      skipOnError: true,
      allowList: (request) => unlimitedRoutes.has(request.routeOptions.url ?? ''),
    });
  },
  { name: 'curator-rate-limit' },
);
