import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  CuratorError,
  batchAcceptedSchema,
  errorBodySchema,
  jobAcceptedSchema,
  jobListQuerySchema,
  jobLookupSchema,
  jobPageSchema,
  jobViewSchema,
  maxJobsPerBatch,
  submitRequestSchema,
  type JobType,
} from '@curator/contracts';
import { isJobId, type AcceptedJob, type JobLinks, type JobQueues } from '@curator/queue';
import type { GatewayMetrics } from '@curator/telemetry';
import { parseCancelAfter, parseIdempotencyKey, parsePreferWait, parseSubmission, submissionFingerprint, withDeadlines } from '../submission.ts';
import { jobNotFound, viewerOf, waitForFinal, type JobViews } from '../views.ts';

export { jobNotFound } from '../views.ts';

export interface JobRoutesOptions {
  queues: JobQueues;
  views: JobViews;
  metrics: GatewayMetrics;
  links: JobLinks;
  maxArticleChars: number;
  /** Job types this build runs; others answer 501. */
  jobTypes: ReadonlySet<JobType>;
  /** The longest `Prefer: wait` is honoured (PREFER_WAIT_MAX_SECONDS; 0: never). */
  preferWaitMaxSeconds: number;
}

export const idParams = z.object({ id: z.string().max(200).describe('A job id (UUID).') });
const errors = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema, 429: errorBodySchema, 501: errorBodySchema, 503: errorBodySchema };

const submitHeaders = z.object({
  'idempotency-key': z.string().optional().describe('Makes the submission safe to send again: the same key with the same body gives back the same job(s) (202, `Idempotent-Replayed: true`); with another body it is 409 `idempotency_conflict`. Kept as long as the job.'),
  'cancel-after': z.string().optional().describe('The latest start, from now: seconds (`90`) or a duration (`90s`, `5m`, `1h30m`). A job no worker started by then ends `expired`.'),
  prefer: z.string().optional().describe('`wait` or `wait=<seconds>`: answer 200 with the finished job if it finishes within that (bounded, default 60 s), else the usual 202. Single jobs only; `Preference-Applied` says it was honoured.'),
});

const lookupQuery = z
  .string()
  .transform((s) => s.split(',').map((id) => id.trim()).filter(Boolean))
  .pipe(z.array(z.string().max(200)).min(1, 'name at least one id').max(maxJobsPerBatch, `name at most ${maxJobsPerBatch} ids`))
  .optional()
  .describe('Look up these jobs (comma-separated) instead of listing; cannot be combined with the listing parameters.');

/** The 202 of an accepted job (also what a replayed Idempotency-Key answers). */
export function acceptedBody(links: JobLinks, job: Pick<AcceptedJob, 'id' | 'type'>) {
  return { id: job.id, type: job.type, status: 'queued' as const, links: links(job.id) };
}

/** Submit, read, list and cancel jobs. */
export const jobRoutes: FastifyPluginAsyncZod<JobRoutesOptions> = async (app, options) => {
  const { queues, views, metrics, links } = options;

  app.post('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Submit one job, or { jobs: [...] } (up to 100)',
      headers: submitHeaders,
      body: submitRequestSchema,
      response: { 200: jobViewSchema.describe('`Prefer: wait` and the job finished in time: the finished job.'), 202: z.union([jobAcceptedSchema, batchAcceptedSchema]), ...errors },
    },
    // The body is parsed by parseSubmission, which names the wrong field precisely; the headers here.
    validatorCompiler: () => (data) => ({ value: data }),
    // The hot path: the 202 body is built right here from typed values, so re-checking it against
    // its schema on every request (zod encode) would only cost throughput. The schema stays for /docs.
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: async (request, reply) => {
      const submission = parseSubmission(request.body, { maxArticleChars: options.maxArticleChars, availableJobTypes: options.jobTypes });
      const cancelAfterMs = parseCancelAfter(request.headers);
      const key = parseIdempotencyKey(request.headers);
      const waitSeconds = submission.batch ? null : parsePreferWait(request.headers, options.preferWaitMaxSeconds);
      const accepted = await queues.submit(withDeadlines(submission.requests, cancelAfterMs), {
        owner: request.caller.owner,
        ...(key ? { idempotency: { key, fingerprint: submissionFingerprint('POST /jobs', submission, request.headers) } } : {}),
      });
      for (const { type, replayed } of accepted) if (!replayed) metrics.jobsSubmitted.inc({ type });
      if (accepted.some((job) => job.replayed)) reply.header('idempotent-replayed', 'true');
      const bodies = accepted.map((job) => acceptedBody(links, job));
      if (submission.batch) return reply.code(202).send({ jobs: bodies });
      reply.header('location', bodies[0]!.links.self);
      if (waitSeconds !== null) {
        const closed = new AbortController();
        reply.raw.once('close', () => closed.abort());
        const final = await waitForFinal(queues, bodies[0]!.id, viewerOf(request.caller), waitSeconds * 1000, closed.signal);
        reply.header('preference-applied', `wait=${waitSeconds}`);
        if (final) return reply.code(200).send(await views.toPublic(final));
      }
      return reply.code(202).send(bodies[0]!);
    },
  });

  app.get('/jobs/:id', {
    schema: { tags: ['jobs'], summary: 'A job: status, progress, stages, result (its shape follows `type`)', params: idParams, response: { 200: jobViewSchema, 404: errorBodySchema, 503: errorBodySchema } },
    handler: async (request) => {
      const view = isJobId(request.params.id) ? await views.get(request.params.id, viewerOf(request.caller)) : null;
      if (!view) throw jobNotFound(request.params.id);
      return view;
    },
  });

  app.get('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: "The caller's jobs, newest first, a page at a time (an admin's: every job); or several jobs at once with ?ids=a,b,c (unknown ids are reported, not dropped)",
      querystring: jobListQuerySchema.extend({ ids: lookupQuery }),
      response: { 200: z.union([jobPageSchema, jobLookupSchema]), 400: errorBodySchema, 503: errorBodySchema },
    },
    handler: async (request) => {
      const { ids, limit: _limit, ...listing } = request.query;
      const viewer = viewerOf(request.caller);
      if (ids) {
        const combined = Object.keys(listing).filter((name) => listing[name as keyof typeof listing] !== undefined);
        if (combined.length > 0) {
          throw new CuratorError('validation_failed', 'ids looks jobs up; it cannot be combined with listing parameters', { details: combined.map((name) => ({ path: `querystring.${name}`, message: 'not allowed with ids' })) });
        }
        const found = await queues.list(ids, viewer);
        return {
          jobs: await Promise.all(found.map((view, i) => (view ? views.toPublic(view) : { id: ids[i]!, error: jobNotFound(ids[i]!).toInfo() }))),
        };
      }
      const page = await queues.page(request.query, viewer);
      return { jobs: await Promise.all(page.jobs.map((view) => views.toPublic(view))), nextCursor: page.nextCursor };
    },
  });

  app.post('/jobs/:id/cancel', {
    schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: idParams, response: { 202: jobViewSchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema } },
    handler: async (request, reply) => {
      const view = isJobId(request.params.id) ? await queues.cancel(request.params.id, viewerOf(request.caller)) : null;
      if (!view) throw jobNotFound(request.params.id);
      metrics.jobsCanceled.inc({ type: view.type });
      return reply.code(202).send(await views.toPublic(view));
    },
  });
};
