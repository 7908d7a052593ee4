import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  CuratorError,
  batchAcceptedSchema,
  errorBodySchema,
  jobAcceptedSchema,
  jobLookupSchema,
  jobViewSchema,
  maxJobsPerBatch,
  submitRequestSchema,
  type JobType,
} from '@curator/contracts';
import { isJobId, type JobLinks, type JobQueues } from '@curator/queue';
import type { GatewayMetrics } from '@curator/telemetry';
import { parseSubmission } from '../submission.ts';
import type { JobViews } from '../views.ts';

export interface JobRoutesOptions {
  queues: JobQueues;
  views: JobViews;
  metrics: GatewayMetrics;
  links: JobLinks;
  maxArticleChars: number;
  /** Job types this build runs; others answer 501. */
  jobTypes: ReadonlySet<JobType>;
}

export const idParams = z.object({ id: z.string().max(200).describe('A job id (UUID).') });
const errors = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema, 429: errorBodySchema, 501: errorBodySchema, 503: errorBodySchema };

export const jobNotFound = (id: string) => new CuratorError('job_not_found', `No job ${id}`, { details: [{ path: 'id', message: 'unknown job id' }] });

/** Submit, read, list and cancel jobs. */
export const jobRoutes: FastifyPluginAsyncZod<JobRoutesOptions> = async (app, options) => {
  const { queues, views, metrics, links } = options;

  app.post('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Submit one job, or { jobs: [...] } (up to 100)',
      body: submitRequestSchema,
      response: { 202: z.union([jobAcceptedSchema, batchAcceptedSchema]), ...errors },
    },
    // The body is parsed by parseSubmission, which names the wrong field precisely.
    validatorCompiler: () => (data) => ({ value: data }),
    // The hot path: the 202 body is built right here from typed values, so re-checking it against
    // its schema on every request (zod encode) would only cost throughput. The schema stays for /docs.
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: async (request, reply) => {
      const submission = parseSubmission(request.body, { maxArticleChars: options.maxArticleChars, availableJobTypes: options.jobTypes });
      const accepted = await queues.submit(submission.requests);
      for (const { type } of accepted) metrics.jobsSubmitted.inc({ type });
      const bodies = accepted.map(({ id, type }) => ({ id, type, status: 'queued' as const, links: links(id) }));
      if (!submission.batch) reply.header('location', bodies[0]!.links.self);
      return reply.code(202).send(submission.batch ? { jobs: bodies } : bodies[0]!);
    },
  });

  app.get('/jobs/:id', {
    schema: { tags: ['jobs'], summary: 'A job: status, progress, stages, result (its shape follows `type`)', params: idParams, response: { 200: jobViewSchema, 404: errorBodySchema, 503: errorBodySchema } },
    handler: async (request) => {
      const view = isJobId(request.params.id) ? await views.get(request.params.id) : null;
      if (!view) throw jobNotFound(request.params.id);
      return view;
    },
  });

  app.get('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Several jobs at once: ?ids=a,b,c (unknown ids are reported, not dropped)',
      querystring: z.object({
        ids: z
          .string()
          .transform((s) => s.split(',').map((id) => id.trim()).filter(Boolean))
          .pipe(z.array(z.string().max(200)).min(1, 'name at least one id').max(maxJobsPerBatch, `name at most ${maxJobsPerBatch} ids`)),
      }),
      response: { 200: jobLookupSchema, 400: errorBodySchema, 503: errorBodySchema },
    },
    handler: async (request) => {
      const ids = request.query.ids;
      const found = await queues.list(ids);
      return {
        jobs: await Promise.all(found.map((view, i) => (view ? views.toPublic(view) : { id: ids[i]!, error: jobNotFound(ids[i]!).toInfo() }))),
      };
    },
  });

  app.post('/jobs/:id/cancel', {
    schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: idParams, response: { 202: jobViewSchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema } },
    handler: async (request, reply) => {
      const view = isJobId(request.params.id) ? await queues.cancel(request.params.id) : null;
      if (!view) throw jobNotFound(request.params.id);
      metrics.jobsCanceled.inc({ type: view.type });
      return reply.code(202).send(await views.toPublic(view));
    },
  });
};
