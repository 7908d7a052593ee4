import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { workersResponseSchema, type JobType, type WorkerHeartbeat } from '@curator/contracts';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import { checkReadiness } from '../readiness.ts';
import { seesAllJobs } from '../caller.ts';

/**
 * A worker as a caller without `admin` sees it: what it runs and how busy it is, but not the ids of
 * the jobs in flight (other callers' jobs: with an id one could read or cancel them).
 */
function withoutJobIds(worker: WorkerHeartbeat): WorkerHeartbeat {
  return { ...worker, jobs: worker.jobs.map(({ type, stage }) => ({ type, stage })) };
}

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
    schema: { tags: ['system'], summary: 'Live workers from their heartbeats (job ids of the jobs in flight for admin callers only)', response: { 200: workersResponseSchema } },
    handler: async (request) => {
      const workers = await queues.workers();
      return { workers: seesAllJobs(request.caller) ? workers : workers.map(withoutJobIds) };
    },
  });
};
