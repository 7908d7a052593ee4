import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import cors from '@fastify/cors';

/**
 * Cross-origin calls from the browser origins in CORS_ORIGINS only; with none configured, answers
 * preflights without allowing any origin (same-origin only).
 */
export const corsPolicy = fp(
  async (app: FastifyInstance, options: { origins: readonly string[] }) => {
    await app.register(cors, {
      origin: [...options.origins],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['content-type', 'last-event-id'],
      exposedHeaders: ['location', 'retry-after'],
      maxAge: 600,
    });
  },
  { name: 'curator-cors' },
);
