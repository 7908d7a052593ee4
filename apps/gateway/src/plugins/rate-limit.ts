import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { CuratorError } from '@curator/contracts';
import { accessKeys } from '@curator/access';
import { verifiedKeyOf } from './access.ts';

/** Routes probes and scrapers call, never limited. Compared by route, so `/metrics?x=1` is exempt too. */
const unlimitedRoutes = new Set(['/healthz', '/readyz', '/metrics']);

export interface RateLimitOptions {
  /** RATE_LIMIT_PER_MINUTE: per key without a limit of its own, and per IP for anonymous calls (0: off). */
  perMinute: number;
  redis: Redis;
  prefix: string;
  /** The counting window (default a minute; tests shorten it to see the reset). Limits are per window. */
  windowMs?: number;
}

/**
 * Requests per window per API key (its own limit, else RATE_LIMIT_PER_MINUTE) or, for anonymous
 * calls, per client IP (the socket's unless TRUST_PROXY names the proxies in front). Counted in
 * Redis so every gateway replica shares one count. Limited responses carry `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (IETF draft); a refused one is `429 rate_limited`
 * with `Retry-After`. If Redis does not answer, requests pass (the routes that need Redis answer
 * 503 themselves). Runs after the access plugin has named the caller.
 */
export const rateLimiting = fp(
  async (app: FastifyInstance, options: RateLimitOptions) => {
    const limitOf = (request: FastifyRequest) => verifiedKeyOf(request)?.rateLimitPerMinute ?? options.perMinute;
    await app.register(rateLimit, {
      max: (request) => limitOf(request),
      timeWindow: options.windowMs ?? 60_000,
      keyGenerator: (request) => (request.caller?.keyId ? `key:${request.caller.keyId}` : `ip:${request.ip}`),
      allowList: (request) => limitOf(request) <= 0 || unlimitedRoutes.has(request.routeOptions.url ?? ''),
      redis: options.redis,
      nameSpace: accessKeys(options.prefix).rateLimit,
      skipOnError: true,
      enableDraftSpec: true,
      errorResponseBuilder: (request, context) =>
        new CuratorError('rate_limited', `Rate limit reached: ${context.max} requests per ${windowText(options.windowMs ?? 60_000)} ${request.caller?.keyId ? 'for this API key' : 'from this address'}; retry in ${context.after}`),
    });
  },
  { name: 'curator-rate-limit', dependencies: ['curator-access'] },
);

function windowText(ms: number): string {
  return ms === 60_000 ? 'minute' : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
