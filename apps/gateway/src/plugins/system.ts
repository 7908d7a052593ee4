import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { workersResponseSchema, type JobType } from '@curator/contracts';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import { checkReadiness } from '../readiness.ts';

const readinessSchema = z
  .object({ ready: z.boolean(), checks: z.object({ redis: z.string(), storage: z.string(), workers: z.string() }), reasons: z.array(z.string()) })
  .meta({ id: 'Readiness' });

/** Health, readiness and the live workers. */
export const systemRoutes: FastifyPluginAsyncZod<{ queues: JobQueues; storage: ObjectStorage; jobTypes: readonly JobType[] }> = async (app, options) => {
  const { queues, storage, jobTypes } = options;

  app.get('/healthz', { schema: { tags: ['system'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: { tags: ['system'], summary: 'Redis and S3 answer and a ready worker holds the models for each job type', response: { 200: readinessSchema, 503: readinessSchema } },
    handler: async (_request, reply) => {
      const readiness = await checkReadiness({ queues, storage, jobTypes: [...jobTypes] });
      return reply.code(readiness.ready ? 200 : 503).send(readiness);
    },
  });

  app.get('/workers', {
    schema: { tags: ['system'], summary: 'Live workers from their heartbeats', response: { 200: workersResponseSchema } },
    handler: async () => ({ workers: await queues.workers() }),
  });
};
