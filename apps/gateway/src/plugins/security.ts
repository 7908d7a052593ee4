import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Bodies of POST routes other than `POST /jobs` (cancel, retry, rerun overrides, feedback): small JSON. */
export const smallBodyLimit = 64 * 1024;

/** JSON answers are data, never a page: nothing may load, run or frame them. */
const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
/** Swagger UI (/docs) loads its own scripts and styles: only framing is refused there. */
const docsContentSecurityPolicy = "frame-ancestors 'none'";

/**
 * Security headers on every response: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
 * `Referrer-Policy: no-referrer`, a Content-Security-Policy that lets nothing load or frame an API
 * answer, and `Strict-Transport-Security` when HSTS_MAX_AGE_SECONDS is set (only where clients
 * reach the gateway over HTTPS). Set before the route runs, so the studio's files replace the CSP
 * with their own (apps/gateway/src/plugins/web.ts) and error answers carry them too.
 *
 * Body limits per route: `POST /jobs` keeps the instance's (a batch of articles); every other
 * POST route takes at most `smallBodyLimit` unless it sets its own `bodyLimit`.
 *
 * Hand-set rather than @fastify/helmet: the set is small and fixed, and the studio and Swagger UI
 * each need their own Content-Security-Policy, which helmet's one global policy would break.
 */
export const securityHeaders = fp(
  async (app: FastifyInstance, options: { hstsMaxAgeSeconds: number }) => {
    const hsts = options.hstsMaxAgeSeconds > 0 ? `max-age=${options.hstsMaxAgeSeconds}; includeSubDomains` : null;
    app.addHook('onRequest', async (request, reply) => {
      const url = request.routeOptions.url ?? '';
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('content-security-policy', url === '/docs' || url.startsWith('/docs/') ? docsContentSecurityPolicy : apiContentSecurityPolicy);
      if (hsts) reply.header('strict-transport-security', hsts);
    });
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.includes('POST') && route.url !== '/jobs' && route.bodyLimit === undefined) route.bodyLimit = smallBodyLimit;
    });
  },
  { name: 'curator-security-headers' },
);
