import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  CuratorError,
  detailsFromZod,
  errorBodySchema,
  feedbackRequestSchema,
  feedbackSchema,
  jobRequestSchema,
  jobViewSchema,
  parseOrThrow,
  rerunAcceptedSchema,
  rerunRequestSchema,
  type ErrorDetail,
  type JobRequest,
  type JobType,
} from '@curator/contracts';
import { isJobId, reusableStages, type JobLinks, type JobQueues } from '@curator/queue';
import type { GatewayMetrics } from '@curator/telemetry';
import { checkAvailable, parseCancelAfter, parseIdempotencyKey, submissionFingerprint, withDeadlines } from '../submission.ts';
import { jobNotFound, viewerOf, type JobViews } from '../views.ts';
import { acceptedBody, idParams } from './jobs.ts';

export interface JobActionOptions {
  queues: JobQueues;
  views: JobViews;
  metrics: GatewayMetrics;
  links: JobLinks;
  jobTypes: ReadonlySet<JobType>;
}

/** The rerun body before its overrides meet the original's type: the type's own schema names a wrong key. */
const rerunBodySchema = rerunRequestSchema.extend({ params: z.record(z.string(), z.unknown()).optional() });

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Overrides over the original's params; nested objects (a curate job's `image`) merge key by key. */
export function mergeParams(original: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...original };
  for (const [key, value] of Object.entries(overrides)) {
    merged[key] = isPlainObject(value) && isPlainObject(original[key]) ? { ...original[key], ...value } : value;
  }
  return merged;
}

/**
 * The request a rerun runs: the original's input, its params under the overrides (checked against
 * the original's type, so a key that type does not take is 400 naming `params.<key>`), its webhook
 * and ttl unless given anew; a deadline only when given (the original's has passed or will).
 */
export function rerunRequest(original: JobRequest, body: z.output<typeof rerunBodySchema>): JobRequest {
  const { deadline: _deadline, ...kept } = original;
  const parsed = jobRequestSchema.safeParse({
    ...kept,
    params: mergeParams(original.params as Record<string, unknown>, body.params ?? {}),
    ...(body.webhook ? { webhook: body.webhook } : {}),
    ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
    ...(body.deadline ? { deadline: body.deadline } : {}),
  });
  if (parsed.success) return parsed.data;
  // A key the original's type does not take is named by its own path (zod names only the object).
  const details: ErrorDetail[] = parsed.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join('.'), message: `is not a parameter of ${original.type} jobs` }))
      : detailsFromZod(new z.ZodError([issue])),
  );
  throw new CuratorError('validation_failed', `Invalid ${details[0]?.path}: ${details[0]?.message}`, { details });
}

/** Rerun, retry and rate a job (the caller's own; an admin's: any). */
export const jobActionRoutes: FastifyPluginAsyncZod<JobActionOptions> = async (app, options) => {
  const { queues, views, metrics, links } = options;

  app.post('/jobs/:id/rerun', {
    schema: {
      tags: ['jobs'],
      summary: "A new job with this job's input and its params under the overrides; stages whose inputs did not change come from the stage cache (`reusedStages`). Idempotency-Key and Cancel-After as on POST /jobs.",
      params: idParams,
      body: rerunRequestSchema.optional(),
      response: { 202: rerunAcceptedSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 501: errorBodySchema, 503: errorBodySchema },
    },
    // Checked below against the original's type, which names a wrong key precisely.
    validatorCompiler: () => (data) => ({ value: data }),
    handler: async (request, reply) => {
      const { id } = request.params;
      const body = parseOrThrow(rerunBodySchema, request.body ?? {});
      const cancelAfterMs = parseCancelAfter(request.headers);
      const key = parseIdempotencyKey(request.headers);
      const original = isJobId(id) ? await queues.original(id, viewerOf(request.caller)) : null;
      if (!original) throw jobNotFound(id);
      const [next] = withDeadlines([rerunRequest(original.request, body)], cancelAfterMs);
      checkAvailable([next!], options.jobTypes);
      const [accepted] = await queues.submit([next!], {
        owner: request.caller.owner,
        rerunOf: id,
        ...(key ? { idempotency: { key, fingerprint: submissionFingerprint(`POST /jobs/${id}/rerun`, body, request.headers) } } : {}),
      });
      if (!accepted!.replayed) metrics.jobsSubmitted.inc({ type: accepted!.type });
      else reply.header('idempotent-replayed', 'true');
      reply.header('location', links(accepted!.id).self);
      return reply.code(202).send({ ...acceptedBody(links, accepted!), rerunOf: id, reusedStages: reusableStages(original.request, original.view.stages, next!) });
    },
  });

  app.post('/jobs/:id/retry', {
    schema: {
      tags: ['jobs'],
      summary: 'Run a failed or expired job again under the same id: its attempts start over and its last run goes to `history` (other jobs: 409 job_not_retryable)',
      params: idParams,
      response: { 202: jobViewSchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const view = isJobId(id) ? await queues.retry(id, viewerOf(request.caller)) : null;
      if (!view) throw jobNotFound(id);
      return reply.code(202).send(await views.toPublic(view));
    },
  });

  app.post('/jobs/:id/feedback', {
    schema: {
      tags: ['jobs'],
      summary: 'Rate a finished job (1..5, optionally one field of it and a comment); counted in curator_feedback_total, exported by `curator feedback export`',
      params: idParams,
      body: feedbackRequestSchema,
      response: { 201: feedbackSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const feedback = isJobId(id) ? await queues.feedback(id, viewerOf(request.caller), request.body) : null;
      if (!feedback) throw jobNotFound(id);
      metrics.feedback.inc({ type: feedback.jobType, field: feedback.field, rating: String(feedback.rating) });
      return reply.code(201).send(feedback);
    },
  });
};
