// The API around jobs (issue 10): listing, rerun, retry, feedback, API keys, webhook messages.
import { z } from 'zod';
import {
  analysisTaskSchema,
  curateParamsSchema,
  generationParamsSchema,
  imageParamsSchema,
  jobAcceptedSchema,
  jobStatusSchema,
  jobTypeSchema,
  jobViewSchema,
  webhookEventSchema,
  webhookRequestSchema,
} from './jobs.ts';

// ---------- listing: GET /jobs without `ids` ----------

export const maxJobsPerPage = 100;

export const jobListQuerySchema = z
  .object({
    status: jobStatusSchema.optional(),
    type: jobTypeSchema.optional(),
    createdAfter: z.iso.datetime({ offset: true }).optional(),
    createdBefore: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(maxJobsPerPage).default(20),
    cursor: z.string().max(200).optional().describe('`nextCursor` of the previous page.'),
  })
  .strict()
  .meta({ id: 'JobListQuery' });
export type JobListQuery = z.infer<typeof jobListQuerySchema>;

export const jobPageSchema = z
  .object({
    jobs: z.array(jobViewSchema).describe("The caller's jobs, newest first."),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'JobPage' });
export type JobPage = z.infer<typeof jobPageSchema>;

// ---------- rerun: POST /jobs/:id/rerun ----------

/**
 * Parameter overrides, merged over the original job's parameters (nested objects such as a curate
 * job's `image` merge key by key). The input is the original's; `webhook`, `deadline` and
 * `ttlSeconds` may be given anew.
 */
export const rerunRequestSchema = z
  .object({
    params: z
      .union([
        curateParamsSchema.partial().extend({ image: imageParamsSchema.partial().optional() }).strict(),
        generationParamsSchema,
        z.object({ task: analysisTaskSchema }).strict(),
        imageParamsSchema.partial().strict(),
      ])
      .optional()
      .describe("Overrides of the original job's params (its type decides which keys are allowed); `{ analysis: 'genre' }` on a curate job swaps sentiment for genre."),
    webhook: webhookRequestSchema.optional(),
    deadline: z.iso.datetime({ offset: true }).optional(),
    ttlSeconds: z.int().min(60).max(31_536_000).optional(),
  })
  .strict()
  .meta({ id: 'RerunRequest' });
export type RerunRequest = z.infer<typeof rerunRequestSchema>;

export const rerunAcceptedSchema = jobAcceptedSchema
  .extend({
    rerunOf: z.string(),
    reusedStages: z.array(z.string()).describe('Stages whose inputs are unchanged: they are reused, not run again.'),
  })
  .meta({ id: 'RerunAccepted' });
export type RerunAccepted = z.infer<typeof rerunAcceptedSchema>;

// ---------- feedback: POST /jobs/:id/feedback ----------

export const feedbackFieldSchema = z.enum(['overall', 'summary', 'headline', 'analysis', 'image', 'card']).meta({ id: 'FeedbackField' });

export const feedbackRequestSchema = z
  .object({
    rating: z.int().min(1).max(5),
    comment: z.string().trim().max(2000).optional(),
    field: feedbackFieldSchema.default('overall').describe('What the rating is about.'),
  })
  .strict()
  .meta({ id: 'FeedbackRequest' });
export type FeedbackRequest = z.infer<typeof feedbackRequestSchema>;

export const feedbackSchema = z
  .object({
    id: z.string(),
    jobId: z.string(),
    jobType: jobTypeSchema,
    rating: z.int().min(1).max(5),
    comment: z.string().nullable(),
    field: feedbackFieldSchema,
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Feedback' });
export type Feedback = z.infer<typeof feedbackSchema>;

// ---------- API keys (managed with `curator keys`) ----------

export const apiKeyScopeSchema = z
  .enum(['submit', 'read', 'admin'])
  .meta({ id: 'ApiKeyScope', description: '`submit`: create jobs (and rerun, retry, cancel, feedback on its own jobs); `read`: read its own jobs; `admin`: every job, /workers job ids.' });
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>;

export const apiKeySchema = z
  .object({
    id: z.string().describe('Public id of the key (not the secret).'),
    name: z.string().min(1).max(100),
    prefix: z.string().describe('The first characters of the secret, to recognise it.'),
    scopes: z.array(apiKeyScopeSchema).min(1),
    rateLimitPerMinute: z.int().min(1).nullable().describe('Requests per minute; null: the deployment default.'),
    dailyJobQuota: z.int().min(1).nullable().describe('Jobs per UTC day; null: unlimited.'),
    createdAt: z.iso.datetime(),
    revokedAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof apiKeySchema>;

// ---------- webhook messages (Standard Webhooks) ----------

export const webhookMessageTypes = { start: 'job.started', progress: 'job.progress', completed: 'job.completed' } as const satisfies Record<z.infer<typeof webhookEventSchema>, string>;

/** The JSON body of every webhook POST; signed with the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. */
export const webhookPayloadSchema = z
  .object({
    type: z.enum(['job.started', 'job.progress', 'job.completed']),
    timestamp: z.iso.datetime(),
    data: jobViewSchema,
  })
  .meta({ id: 'WebhookPayload' });
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;
