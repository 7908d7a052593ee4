import { z } from 'zod';
import { errorInfoSchema } from './errors.ts';

// ---------- inputs ----------

const titleSchema = z.string().trim().min(1).max(1000);

export const textInputSchema = z
  .object({
    text: z.string().trim().min(1, 'must not be empty'),
    title: titleSchema.optional().describe("The article's title: on the card when `params.cardText` is `title`."),
  })
  .strict()
  .meta({ id: 'ArticleText', title: 'ArticleText', description: 'Article text given inline.' });

export const urlInputSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    title: titleSchema.optional().describe("Replaces the title extracted from the page (any Unicode)."),
  })
  .strict()
  .meta({ id: 'ArticleUrl', title: 'ArticleUrl', description: 'Article fetched from a URL and extracted by the worker.' });

export const articleInputSchema = z
  .union([textInputSchema, urlInputSchema], { error: 'must be { text, title? } or { url, title? }' })
  .meta({ id: 'Article', title: 'Article', description: 'An article: its text, or the URL to fetch it from.' });
export type ArticleInput = z.infer<typeof articleInputSchema>;

export const promptInputSchema = z
  .object({ prompt: z.string().trim().min(1, 'must not be empty').max(2000) })
  .strict()
  .meta({ id: 'Prompt', title: 'Prompt' });

// ---------- parameters ----------

export const analysisTaskSchema = z.enum(['sentiment', 'genre']).meta({
  id: 'AnalysisTask',
  description: 'sentiment: negative/neutral/positive (BERTweet). genre: business/entertainment/politics/sport/tech (BBC news).',
});
export type AnalysisTask = z.infer<typeof analysisTaskSchema>;

const seedSchema = z.int().min(0).max(2 ** 32 - 1).describe('Same seed, same output.');

/** Decoding knobs shared by the summary and headline generators (Hugging Face `generate()` semantics). */
export const generationParamsSchema = z
  .object({
    maxTokens: z.int().min(5).max(200).optional().describe('Maximum new tokens (defaults per stage).'),
    minTokens: z.int().min(0).max(200).optional(),
    numBeams: z.int().min(1).max(16).optional(),
    numReturnSequences: z.int().min(1).max(16).optional(),
    lengthPenalty: z.number().min(-10).max(10).optional(),
    earlyStopping: z.boolean().optional(),
    noRepeatNgramSize: z.int().min(0).max(10).optional(),
    repetitionPenalty: z.number().min(1).max(10).optional(),
    doSample: z.boolean().optional().describe('Sample instead of searching; temperature/topK/topP apply.'),
    temperature: z.number().gt(0).max(100).optional(),
    topK: z.int().min(0).max(1000).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: seedSchema.optional(),
  })
  .strict()
  .refine((p) => p.numReturnSequences === undefined || p.numReturnSequences <= (p.numBeams ?? 1) || p.doSample === true, {
    message: 'numReturnSequences must not exceed numBeams',
    path: ['numReturnSequences'],
  })
  .refine((p) => p.minTokens === undefined || p.maxTokens === undefined || p.minTokens <= p.maxTokens, {
    message: 'minTokens must not exceed maxTokens',
    path: ['minTokens'],
  })
  .meta({ id: 'GenerationParams' });
export type GenerationParams = z.infer<typeof generationParamsSchema>;

export const schedulerNameSchema = z.enum(['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm-solver++']).meta({ id: 'SchedulerName' });
export const imageFormatSchema = z.enum(['png', 'jpeg', 'webp']).meta({ id: 'ImageFormat' });

const multipleOf8 = (name: string) =>
  z.int().min(64).max(1024).refine((v) => v % 8 === 0, { message: `${name} must be a multiple of 8` });

export const imageParamsSchema = z
  .object({
    negativePrompt: z.string().max(2000).optional(),
    steps: z.int().min(1).max(150).default(25),
    guidanceScale: z.number().min(0).max(30).default(7.5),
    width: multipleOf8('width').default(512),
    height: multipleOf8('height').default(512),
    seed: seedSchema.optional(),
    numImages: z.int().min(1).max(4).default(1),
    scheduler: schedulerNameSchema.optional().describe("Defaults to the model's own scheduler (PNDM)."),
    format: imageFormatSchema.default('png'),
  })
  .strict()
  .meta({ id: 'ImageParams' });
export type ImageParams = z.infer<typeof imageParamsSchema>;

export const cardTextSchema = z
  .enum(['headline', 'title'])
  .meta({ id: 'CardText', description: "What the card says: the generated headline, or the article's own title (the headline when the article has none)." });
export type CardText = z.infer<typeof cardTextSchema>;

/** The reference tutorial's knobs for the whole card, bounded and defaulted. */
export const curateParamsSchema = z
  .object({
    imagePrefix: z.string().max(500).default('Impressionist image - '),
    summaryMaxTokens: z.int().min(5).max(200).default(30),
    headlineMaxTokens: z.int().min(5).max(200).default(84),
    temperature: z.number().min(0).max(100).default(0).describe('0 searches with beams; above 0 samples at that temperature.'),
    noRepeatNgramSize: z.int().min(1).max(10).default(2),
    analysis: analysisTaskSchema.default('sentiment'),
    cardText: cardTextSchema.default('headline'),
    seed: seedSchema.optional(),
    image: imageParamsSchema.partial().optional(),
  })
  .strict()
  .meta({ id: 'CurateParams' });
export type CurateParams = z.infer<typeof curateParamsSchema>;

// ---------- job options (any job type) ----------

export const webhookEventSchema = z
  .enum(['start', 'progress', 'completed'])
  .meta({ id: 'WebhookEvent', description: '`start`: a worker took the job; `progress`: stage progress (throttled); `completed`: the job reached a final status (succeeded, failed, canceled or expired).' });
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

export const webhookRequestSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000).describe('Receives signed POSTs (Standard Webhooks). Held to the same address rules as article URLs.'),
    events: z.array(webhookEventSchema).min(1).max(3).default(['completed']),
  })
  .strict()
  .meta({ id: 'WebhookRequest' });
export type WebhookRequest = z.infer<typeof webhookRequestSchema>;

/** Fields every job request may carry besides `type`, `input` and `params`. */
const jobOptionFields = {
  webhook: webhookRequestSchema.optional(),
  deadline: z.iso.datetime({ offset: true }).optional().describe('A job not started by then ends `expired` (the `Cancel-After` header sets it too).'),
  ttlSeconds: z.int().min(60).max(31_536_000).optional().describe('How long the job record and its result are kept (defaults to the deployment\'s JOB_TTL_SECONDS).'),
};

// ---------- job requests (a discriminated union on `type`) ----------

export const curateRequestSchema = z
  .object({ type: z.literal('curate'), input: articleInputSchema, params: curateParamsSchema.default(curateParamsSchema.parse({})), ...jobOptionFields })
  .strict()
  .meta({ id: 'CurateJobRequest' });

export const classifyRequestSchema = z
  .object({
    type: z.literal('classify'),
    input: articleInputSchema,
    params: z.object({ task: analysisTaskSchema.default('sentiment') }).strict().default({ task: 'sentiment' }),
    ...jobOptionFields,
  })
  .strict()
  .meta({ id: 'ClassifyJobRequest' });

export const summarizeRequestSchema = z
  .object({ type: z.literal('summarize'), input: articleInputSchema, params: generationParamsSchema.default({}), ...jobOptionFields })
  .strict()
  .meta({ id: 'SummarizeJobRequest' });

export const headlineRequestSchema = z
  .object({ type: z.literal('headline'), input: articleInputSchema, params: generationParamsSchema.default({}), ...jobOptionFields })
  .strict()
  .meta({ id: 'HeadlineJobRequest' });

export const textToImageRequestSchema = z
  .object({ type: z.literal('text-to-image'), input: promptInputSchema, params: imageParamsSchema.default(imageParamsSchema.parse({})), ...jobOptionFields })
  .strict()
  .meta({ id: 'TextToImageJobRequest' });

export const jobRequestSchema = z
  .discriminatedUnion('type', [curateRequestSchema, classifyRequestSchema, summarizeRequestSchema, headlineRequestSchema, textToImageRequestSchema])
  .meta({ id: 'JobRequest' });
export type JobRequest = z.output<typeof jobRequestSchema>;
export type JobRequestInput = z.input<typeof jobRequestSchema>;
export type JobType = JobRequest['type'];
export const jobTypes = ['curate', 'classify', 'summarize', 'headline', 'text-to-image'] as const satisfies readonly JobType[];
export const jobTypeSchema = z.enum(jobTypes).meta({ id: 'JobType' });
export type JobRequestOf<T extends JobType> = Extract<JobRequest, { type: T }>;

export const maxJobsPerBatch = 100;
export const batchRequestSchema = z
  .object({ jobs: z.array(jobRequestSchema).min(1, 'must hold at least one job').max(maxJobsPerBatch, `must hold at most ${maxJobsPerBatch} jobs`) })
  .strict()
  .meta({ id: 'BatchJobRequest' });

/** `POST /jobs` takes one job or `{ jobs: [...] }`. */
export const submitRequestSchema = z.union([batchRequestSchema, jobRequestSchema]);
export type SubmitRequest = z.output<typeof submitRequestSchema>;

// ---------- results ----------
// Two shapes of each result: as the worker stores it (images by object key: the worker parses its
// result against `storedResultSchemas` when the job's last stage finishes), and as clients read it
// (each image with a presigned URL minted on every read: the `*Result` schemas in the job view).

export const modelSetSchema = z
  .enum(['real', 'test'])
  .meta({ id: 'ModelSet', description: '`test`: the small generated test models (random weights, so the text and pictures mean nothing); `real`: the published models.' });
export type ModelSet = z.infer<typeof modelSetSchema>;

const modelsField = { models: modelSetSchema };

export const classificationSchema = z
  .object({
    task: analysisTaskSchema,
    label: z.string(),
    scores: z.record(z.string(), z.number()).describe('Probability per label, summing to 1.'),
    model: z.string(),
  })
  .meta({ id: 'Classification' });
export type Classification = z.infer<typeof classificationSchema>;

const generatedTextFields = {
  text: z.string(),
  sequences: z.array(z.object({ text: z.string(), score: z.number() })).optional().describe('Every returned sequence with its score, when more than one was asked for.'),
  tokens: z.int(),
  model: z.string(),
};

export const classifyResultSchema = classificationSchema.extend(modelsField).meta({ id: 'ClassifyResult' });
export const summarizeResultSchema = z.object({ ...generatedTextFields, ...modelsField }).meta({ id: 'SummarizeResult' });
export const headlineResultSchema = z.object({ ...generatedTextFields, ...modelsField }).meta({ id: 'HeadlineResult' });
export type ClassifyResult = z.infer<typeof classifyResultSchema>;
export type GeneratedTextResult = z.infer<typeof summarizeResultSchema>;

/** A picture in S3 as a stored result names it: by object key, never by URL. */
export const storedObjectSchema = z.object({
  key: z.string(),
  contentType: z.string(),
  width: z.int(),
  height: z.int(),
  bytes: z.int(),
});
export type StoredObject = z.infer<typeof storedObjectSchema>;

/** A picture as clients see it: with a presigned URL. */
const imageFields = {
  key: z.string().describe('Object key in the image bucket.'),
  url: z.url().describe('Presigned GET URL, minted fresh on every read.'),
  expiresAt: z.iso.datetime(),
  contentType: z.string(),
  width: z.int(),
  height: z.int(),
  bytes: z.int(),
};
export const imageSchema = z.object(imageFields).meta({ id: 'Image' });
export const generatedImageSchema = z.object({ ...imageFields, seed: z.int() }).meta({ id: 'GeneratedImage' });

export const imageGenerationSchema = z
  .object({
    seed: z.int(),
    scheduler: schedulerNameSchema,
    steps: z.int(),
    guidanceScale: z.number(),
    prompt: z.string(),
    negativePrompt: z.string().optional(),
    model: z.string(),
  })
  .meta({ id: 'ImageGeneration' });
export type ImageGeneration = z.infer<typeof imageGenerationSchema>;

const storedGeneratedImageSchema = storedObjectSchema.extend({ seed: z.int() });

/** text-to-image as stored; `card` when the job is a curate job's image stages. */
export const textToImageStoredResultSchema = z.object({
  images: z.array(storedGeneratedImageSchema).min(1),
  generation: imageGenerationSchema,
  card: storedObjectSchema.optional(),
  ...modelsField,
});
export type TextToImageStoredResult = z.infer<typeof textToImageStoredResultSchema>;

export const textToImageResultSchema = z
  .object({ images: z.array(generatedImageSchema), generation: imageGenerationSchema, ...modelsField })
  .meta({ id: 'TextToImageResult' });

const curateTextFields = {
  title: z.string().nullable().describe("The article's title: given, or extracted from the page."),
  summary: z.string(),
  headline: z.string(),
  cardText: z.string().describe('The text set on the card (`params.cardText` chose the headline or the title).'),
  analysis: classificationSchema,
};

export const curateStoredResultSchema = z.object({
  ...curateTextFields,
  image: z.object({ image: storedGeneratedImageSchema, card: storedObjectSchema, generation: imageGenerationSchema }),
  ...modelsField,
});
export type CurateStoredResult = z.infer<typeof curateStoredResultSchema>;

export const curateResultSchema = z
  .object({
    ...curateTextFields,
    image: z.object({
      url: z.url().describe('The picture (same as image.url).'),
      cardUrl: z.url().describe('The card: the picture under a band carrying the card text (same as card.url).'),
      image: generatedImageSchema,
      card: imageSchema,
      generation: imageGenerationSchema,
    }),
    ...modelsField,
  })
  .meta({ id: 'CurateResult' });

/** What each job type's last stage must return; the worker refuses a result that does not match. */
export const storedResultSchemas = {
  curate: curateStoredResultSchema,
  classify: classifyResultSchema,
  summarize: summarizeResultSchema,
  headline: headlineResultSchema,
  'text-to-image': textToImageStoredResultSchema,
} as const satisfies Record<JobType, z.ZodType>;
export type StoredResultOf<T extends JobType> = z.output<(typeof storedResultSchemas)[T]>;

/** Each job type's result as clients read it. */
export const resultSchemas = {
  curate: curateResultSchema,
  classify: classifyResultSchema,
  summarize: summarizeResultSchema,
  headline: headlineResultSchema,
  'text-to-image': textToImageResultSchema,
} as const satisfies Record<JobType, z.ZodType>;
export type ResultOf<T extends JobType> = z.output<(typeof resultSchemas)[T]>;

// ---------- job records ----------

export const jobStatusSchema = z
  .enum(['queued', 'running', 'succeeded', 'failed', 'canceled', 'expired'])
  .meta({ id: 'JobStatus', description: '`expired`: the job\'s deadline passed before a worker started it.' });
export type JobStatus = z.infer<typeof jobStatusSchema>;
export const terminalStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];

export const stageStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']).meta({ id: 'StageStatus' });

export const stageInputInfoSchema = z
  .object({
    tokens: z.int().describe('Tokens the model saw.'),
    limit: z.int().describe("The model's window."),
    truncated: z.boolean(),
    originalTokens: z.int().optional(),
  })
  .meta({ id: 'StageInputInfo' });
export type StageInputInfo = z.infer<typeof stageInputInfoSchema>;

export const stageSchema = z
  .object({
    name: z.string(),
    status: stageStatusSchema,
    durationMs: z.number().nullable(),
    cached: z.boolean(),
    model: z.string().optional(),
    input: stageInputInfoSchema.optional(),
    metrics: z.record(z.string(), z.number()).optional().describe('Stage figures such as tokens, tokensPerSecond, timeToFirstTokenMs, steps.'),
  })
  .meta({ id: 'Stage' });
export type Stage = z.infer<typeof stageSchema>;

export const jobProgressSchema = z
  .object({ percent: z.number().min(0).max(100), stage: z.string().nullable(), detail: z.string().optional() })
  .meta({ id: 'JobProgress' });
export type JobProgress = z.infer<typeof jobProgressSchema>;

export const jobLinksSchema = z.object({ self: z.string(), events: z.string() }).meta({ id: 'JobLinks' });

export const webhookDeliverySchema = z
  .object({
    id: z.string().describe('The `webhook-id` header of this message (the same on every retry of it).'),
    event: webhookEventSchema,
    attempt: z.int().min(1),
    status: z.enum(['pending', 'delivered', 'failed']).describe('`failed`: given up after the last retry, or refused for good (a 4xx other than 429, a blocked address).'),
    responseStatus: z.int().nullable(),
    error: z.string().nullable().describe('Why the last attempt failed, without internal addresses.'),
    at: z.iso.datetime(),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

export const jobWebhookSchema = z
  .object({ url: z.string(), events: z.array(webhookEventSchema), deliveries: z.array(webhookDeliverySchema).describe('Newest last; progress messages are throttled.') })
  .meta({ id: 'JobWebhook' });

export const jobAttemptSchema = z
  .object({
    attempt: z.int().min(1),
    status: z.enum(['succeeded', 'failed', 'canceled', 'expired']),
    error: errorInfoSchema.nullable(),
    startedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'JobAttempt', description: 'A finished run of the job; `POST /jobs/:id/retry` runs it again under the same id.' });

/** The job's life (issue 10): deadline, lifetime, timing, where it came from, earlier runs. */
const jobLifeFields = {
  deadline: z.iso.datetime().nullable().describe('A job not started by then ends `expired` (from `deadline` or the `Cancel-After` header).'),
  expiresAt: z.iso.datetime().nullable().describe('When the job record and its result are deleted: its `ttlSeconds` after it finished (null while it has not).'),
  queueWaitMs: z.number().nullable().describe('From submission (or the last retry) to a worker starting it; null until one did.'),
  runMs: z.number().nullable().describe('From a worker starting it to its final status; null until it has one.'),
  rerunOf: z.string().nullable().describe('The job this one reruns with changed parameters (`POST /jobs/:id/rerun`).'),
  history: z.array(jobAttemptSchema).describe('Earlier runs under this id (`POST /jobs/:id/retry`), oldest first.'),
  webhook: jobWebhookSchema.nullable().describe('Where the job\'s webhook messages go and how each delivery went; null without a webhook.'),
};

/** Every field of a job except its type and result. */
const jobFields = {
  ...jobLifeFields,
  id: z.string(),
  status: jobStatusSchema,
  progress: jobProgressSchema,
  stages: z.array(stageSchema),
  attempts: z.object({ made: z.int(), max: z.int() }).describe('Attempts started (a worker that died mid-job used one too) and the most the job gets.'),
  error: errorInfoSchema.nullable(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  links: jobLinksSchema,
};
const jobFieldsSchema = z.object(jobFields);
export type JobFields = z.infer<typeof jobFieldsSchema>;

const jobOf = <T extends JobType, R extends z.ZodType>(type: T, result: R, id: string) =>
  z.object({ ...jobFields, type: z.literal(type), result: result.nullable().describe('Set once the job succeeded.') }).meta({ id, title: id });

/** A job as clients read it: one shape per job type, told apart by `type`. */
export const jobViewSchema = z
  .discriminatedUnion('type', [
    jobOf('curate', curateResultSchema, 'CurateJob'),
    jobOf('classify', classifyResultSchema, 'ClassifyJob'),
    jobOf('summarize', summarizeResultSchema, 'SummarizeJob'),
    jobOf('headline', headlineResultSchema, 'HeadlineJob'),
    jobOf('text-to-image', textToImageResultSchema, 'TextToImageJob'),
  ])
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof jobViewSchema>;
export type JobViewOf<T extends JobType> = Extract<JobView, { type: T }>;

/** A job as the queue reads it: the same fields, its result as stored (object keys, no URLs yet). */
export type StoredJobView = JobFields & { [T in JobType]: { type: T; result: StoredResultOf<T> | null } }[JobType];

export const jobAcceptedSchema = z
  .object({ id: z.string(), type: jobTypeSchema, status: z.literal('queued'), links: jobLinksSchema })
  .meta({ id: 'JobAccepted' });
export type JobAccepted = z.infer<typeof jobAcceptedSchema>;

export const batchAcceptedSchema = z.object({ jobs: z.array(jobAcceptedSchema) }).meta({ id: 'BatchAccepted' });

export const jobNotFoundSchema = z.object({ id: z.string(), error: errorInfoSchema }).meta({ id: 'JobNotFound', title: 'JobNotFound' });

export const jobLookupSchema = z
  .object({ jobs: z.array(z.union([jobViewSchema, jobNotFoundSchema])).describe('In the order asked; an unknown id is reported, not dropped.') })
  .meta({ id: 'JobLookup' });

export const jobEventNames = ['snapshot', 'progress', 'completed', 'failed', 'canceled', 'expired'] as const;

/** What a live event stream (`GET /jobs/:id/events`, server-sent events) carries as `data`. */
export const jobEventSchema = z
  .object({
    event: z.enum(jobEventNames),
    job: jobViewSchema,
  })
  .meta({ id: 'JobEvent' });
export type JobEvent = z.infer<typeof jobEventSchema>;

// ---------- workers ----------

export const loadedModelSchema = z
  .object({
    role: z.string(),
    model: z.string(),
    precision: z.string(),
    device: z.string(),
    loadMs: z.number(),
    warmupMs: z.number().nullable(),
  })
  .meta({ id: 'LoadedModel' });
export type LoadedModel = z.infer<typeof loadedModelSchema>;

export const workerHeartbeatSchema = z
  .object({
    id: z.string(),
    host: z.string(),
    pid: z.int(),
    pools: z.array(z.string()),
    jobTypes: z.array(jobTypeSchema).describe('Job types this worker can run with the models it holds.'),
    device: z.string(),
    ready: z.boolean(),
    concurrency: z.int(),
    models: z.array(loadedModelSchema),
    jobs: z
      .array(z.object({ id: z.string().optional().describe('Only for admin callers (and an open gateway): the jobs of other callers are theirs.'), type: jobTypeSchema, stage: z.string().nullable() }))
      .describe('The jobs in flight on this worker.'),
    startedAt: z.iso.datetime(),
    lastSeen: z.iso.datetime(),
    version: z.string(),
  })
  .meta({ id: 'WorkerHeartbeat' });
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;

export const workersResponseSchema = z.object({ workers: z.array(workerHeartbeatSchema) }).meta({ id: 'Workers' });

/**
 * Job types this build runs end to end. The gateway answers 501 `not_implemented` for the others
 * (their models arrive in later releases).
 */
export const availableJobTypes: readonly JobType[] = ['curate', 'classify', 'summarize', 'headline', 'text-to-image'];
