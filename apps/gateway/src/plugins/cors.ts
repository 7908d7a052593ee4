import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import cors from '@fastify/cors';

/** Request headers a browser client may send: its key, and the job API's own headers. */
export const corsAllowedHeaders = ['content-type', 'authorization', 'idempotency-key', 'prefer', 'cancel-after', 'last-event-id'];
/** Response headers a browser client may read: where the job is, when to come back, its limits. */
export const corsExposedHeaders = ['location', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'preference-applied', 'idempotent-replayed'];

/**
 * Cross-origin calls from the browser origins in CORS_ORIGINS only; with none configured, answers
 * preflights without allowing any origin (same-origin only). Credentials (cookies) are never
 * allowed: the API authenticates with `Authorization: Bearer`, which a page must send itself.
 */
export const corsPolicy = fp(
  async (app: FastifyInstance, options: { origins: readonly string[] }) => {
    await app.register(cors, {
      origin: [...options.origins],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: corsAllowedHeaders,
      exposedHeaders: corsExposedHeaders,
      credentials: false,
      maxAge: 600,
    });
  },
  { name: 'curator-cors' },
);
