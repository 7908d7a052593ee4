import { z } from 'zod';
import { CuratorConfigError } from './errors.ts';

export { CuratorConfigError } from './errors.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin is scheme://host[:port], without a path');
/** Fastify's `trustProxy`: false, true, a hop count, or the proxies' addresses/CIDRs. */
const trustProxy = z.string().default('false').transform((value): boolean | number | string[] => {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
});

/**
 * Time a stopping worker needs after its grace period: handing jobs back, closing connections,
 * unloading models. Deployment files give the worker at least grace + margin before a SIGKILL.
 */
export const shutdownMarginMs = 30_000;

/**
 * Every environment variable Curator reads, with its default and meaning.
 * The README's configuration table is printed from this list (`npm run curator -- config --markdown`).
 */
export const variables = {
  HOST: { schema: z.string(), default: '0.0.0.0', doc: 'Gateway listen address.' },
  PORT: { schema: int(0, 65535), default: '8080', doc: 'Gateway listen port.' },
  PUBLIC_URL: { schema: z.string().optional(), default: undefined, doc: 'Base URL for links in responses (defaults to relative links).' },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'pino log level.' },
  REDIS_URL: { schema: z.string().optional(), default: undefined, doc: 'Redis for BullMQ. Unset: 127.0.0.1:6379, and `npm start` starts a local redis-server if none answers.' },
  QUEUE_PREFIX: { schema: z.string().min(1), default: 'curator', doc: 'Key prefix of every queue in Redis (lets several deployments share one Redis).' },
  S3_ENDPOINT: { schema: z.string().optional(), default: undefined, doc: 'S3 endpoint URL. Unset with `npm start`: an embedded S3 server (@curator/embedded-s3) on S3_EMBEDDED_PORT.' },
  S3_PUBLIC_ENDPOINT: { schema: z.url({ protocol: /^https?$/ }).optional(), default: undefined, doc: 'S3 endpoint as clients reach it; presigned URLs name this host (signatures cover it). Default: S3_ENDPOINT.' },
  S3_REGION: { schema: z.string(), default: 'us-east-1', doc: 'S3 region.' },
  S3_BUCKET: { schema: z.string().min(3), default: 'curator', doc: 'Bucket for images and cards.' },
  S3_FORCE_PATH_STYLE: { schema: bool, default: 'true', doc: 'Path-style addressing (needed by MinIO, SeaweedFS, Garage, the embedded S3 server).' },
  S3_ACCESS_KEY_ID: { schema: z.string().optional(), default: undefined, doc: 'S3 access key (else the AWS SDK default chain).' },
  S3_SECRET_ACCESS_KEY: { schema: z.string().optional(), default: undefined, doc: 'S3 secret key.' },
  S3_CREATE_BUCKET: { schema: bool, default: 'true', doc: 'Create the bucket on start when missing.' },
  S3_EMBEDDED_PORT: { schema: int(0, 65535), default: '4569', doc: 'Port of the embedded S3 server that `npm start` runs when S3_ENDPOINT is unset.' },
  S3_RETRY_WINDOW_MS: { schema: int(0, 3600000), default: '60000', doc: 'How long uploads and reads retry an unreachable or failing S3 (backoff with jitter) before the job step fails with `storage_unavailable`.' },
  PRESIGN_EXPIRES_SECONDS: { schema: int(1, 604800), default: '3600', doc: 'Lifetime of presigned image URLs (minted fresh on every read).' },
  DATA_DIR: { schema: z.string(), default: '.data', doc: 'Where `npm start` keeps the embedded S3 data and local Redis files.' },
  MODELS_DIR: { schema: z.string(), default: 'models', doc: 'Model folders, one per model id (`MODELS_DIR/<model-id>/`).' },
  CURATOR_MODELS: { schema: z.enum(['real', 'test']), default: 'real', doc: '`test` runs on the test set: tiny fake checkpoints of the real repos, converted like the real ones (no downloads).' },
  CURATOR_DEVICE: { schema: z.enum(['auto', 'cuda', 'cpu']), default: 'auto', doc: '`auto` tries CUDA and falls back to CPU; `cuda` fails loudly.' },
  CURATOR_DEVICE_ID: { schema: int(0, 64), default: '0', doc: 'CUDA device id.' },
  CURATOR_MODEL_SENTIMENT: { schema: z.string().optional(), default: undefined, doc: 'Another sentiment model, `org/name@revision`: a Hub repo with the same files as the default (converted the same way).' },
  CURATOR_MODEL_GENRE: { schema: z.string().optional(), default: undefined, doc: 'Another genre model, `org/name@revision`.' },
  CURATOR_MODEL_SUMMARIZER: { schema: z.string().optional(), default: undefined, doc: 'Another summarizer, `org/name@revision`.' },
  CURATOR_MODEL_HEADLINE: { schema: z.string().optional(), default: undefined, doc: 'Another headline model, `org/name@revision`.' },
  CURATOR_MODEL_IMAGE: { schema: z.string().optional(), default: undefined, doc: 'Another Stable Diffusion repo, `org/name@revision`.' },
  CURATOR_MODELS_MANIFEST: { schema: z.string().optional(), default: undefined, doc: 'JSON file of manifest entries replacing the built-in ones (see docs/models.md).' },
  CURATOR_MODELS_EXPORTS: {
    schema: z.string().optional(),
    default: undefined,
    doc: 'Where converted ONNX files are pulled from instead of converting the Hub checkpoints (`s3://bucket/prefix` or a folder laid out like MODELS_DIR); unset: pull the pinned checkpoints and convert them.',
  },
  HF_ENDPOINT: { schema: z.string().optional(), default: undefined, doc: 'Hugging Face Hub endpoint the pinned checkpoints are pulled from (default https://huggingface.co; a mirror works).' },
  SENTIMENT_PREPROCESSING: {
    schema: z.enum(['pysentimiento', 'huggingface']),
    default: 'pysentimiento',
    doc: "What a text goes through before the BERTweet sentiment model: `pysentimiento`, its authors' preprocessing, which it was trained with (users, URLs, emoji as text); `huggingface`, the text as transformers' pipeline feeds it (the reference tutorial's behaviour). See docs/models.md.",
  },
  HF_TOKEN: { schema: z.string().optional(), default: undefined, doc: 'Hub token, sent to the Hub host only.' },
  CURATOR_PRECISION: { schema: z.enum(['auto', 'fp32', 'fp16', 'int8']), default: 'auto', doc: '`auto`: fp16 files on CUDA, fp32 on CPU; otherwise that precision where its files are on disk.' },
  CURATOR_SESSION_OPTIONS: {
    schema: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (!text) return {};
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(
        z.partialRecord(
          z.enum(['*', 'sentiment', 'genre', 'summarizer', 'headline', 'image']),
          z.object({ threads: z.int().min(0).max(256).optional(), graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(), enableMemArena: z.boolean().optional() }).strict(),
        ),
      ),
    default: undefined,
    doc: 'onnxruntime session options per model role (or `*`), JSON: `{"summarizer":{"threads":4,"graphOptimizationLevel":"all","enableMemArena":true}}`.',
  },
  WORKER_CONCURRENCY: { schema: int(1, 256), default: '4', doc: 'Jobs one worker process runs at once (models are shared, loaded once).' },
  WORKER_POOLS: { schema: list.pipe(z.array(z.enum(['text', 'image'])).min(1)), default: 'text,image', doc: 'Queues this worker takes jobs from: `text` (classify, summarize, headline, curate text stages), `image`.' },
  WORKER_HEARTBEAT_MS: { schema: int(100, 600000), default: '5000', doc: 'Heartbeat period; a worker silent for 3 periods counts as gone.' },
  WORKER_METRICS_PORT: { schema: int(0, 65535), default: '9464', doc: 'Port of the worker\'s /metrics and /healthz (0: off).' },
  WORKER_SHUTDOWN_GRACE_MS: {
    schema: int(0, 86400000),
    default: '30000',
    doc: `On SIGTERM, how long jobs in flight may finish before they are handed back to the queue (another worker runs them from the start). The platform's stop grace (compose \`stop_grace_period\`, k8s \`terminationGracePeriodSeconds\`) must exceed it by ${shutdownMarginMs / 1000} s.`,
  },
  WORKER_LOCK_MS: {
    schema: int(1000, 3600000),
    default: '30000',
    doc: "BullMQ job lock, renewed every half lock by the worker's main loop while a model runs. Stalls are checked every half lock: a job whose worker died is taken by another worker within 0.5 to 1.5 locks.",
  },
  JOB_ATTEMPTS: { schema: int(1, 20), default: '3', doc: 'Attempts per job: transient failures (storage, Redis) retry with exponential backoff, and a worker that died mid-job (a stall) uses one attempt too.' },
  JOB_BACKOFF_MS: { schema: int(0, 600000), default: '1000', doc: 'First retry delay; doubles each attempt.' },
  JOB_TTL_SECONDS: { schema: int(60, 31536000), default: '86400', doc: 'How long job records and results are kept after a job finished (a job may ask for its own `ttlSeconds`); also how long stage outputs stay cached.' },
  PREFER_WAIT_MAX_SECONDS: { schema: int(0, 600), default: '60', doc: 'Gateway: the longest `POST /jobs` waits for a job to finish when asked with `Prefer: wait[=seconds]` (0: never waits).' },
  MAX_ARTICLE_CHARS: { schema: int(100, 10000000), default: '100000', doc: 'Longer articles are refused: inline text with 413 `text_too_long`, a fetched article fails its job with `text_too_long`.' },
  FETCH_TIMEOUT_MS: { schema: int(100, 120000), default: '10000', doc: 'Article fetch time limit.' },
  FETCH_MAX_BYTES: { schema: int(1024, 100000000), default: '5000000', doc: 'Article fetch size limit.' },
  FETCH_MAX_REDIRECTS: { schema: int(0, 20), default: '5', doc: 'Article fetch redirect limit.' },
  FETCH_ALLOW_PRIVATE: { schema: bool, default: 'false', doc: 'Allow fetching private/loopback addresses (tests only).' },
  FETCH_ALLOWED_PORTS: { schema: list.pipe(z.array(z.coerce.number<string>().int().min(1).max(65535)).min(1)), default: '80,443', doc: 'Ports article fetches (and every other request to a user-supplied URL) may use on public hosts; FETCH_ALLOW_PRIVATE lifts it.' },
  // Webhooks (docs/webhooks.md): deliveries obey FETCH_ALLOW_PRIVATE and FETCH_ALLOWED_PORTS like article fetches.
  WEBHOOK_SECRET: {
    schema: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64 (Standard Webhooks)')
      .refine((v) => Buffer.from(v.slice(6), 'base64').byteLength >= 24 && Buffer.from(v.slice(6), 'base64').byteLength <= 64, 'must encode 24 to 64 random bytes')
      .optional(),
    default: undefined,
    doc: 'Signs the webhooks of anonymous jobs (an open gateway); jobs of an API key are signed with that key\'s own secret. Unset: an anonymous job asking for a webhook is refused (400 naming `webhook`). Make one with `openssl rand -base64 32` and prefix `whsec_`.',
  },
  WEBHOOK_TIMEOUT_MS: { schema: int(1000, 120000), default: '15000', doc: 'Webhook delivery: time limit of one attempt (connecting, sending, the answer\'s headers); the answer\'s body is not read.' },
  WEBHOOK_ATTEMPTS: { schema: int(1, 50), default: '10', doc: 'Webhook delivery: attempts per message, the first included. Retried on network errors, timeouts, redirects, 429 and 5xx; never on other 4xx or a blocked address.' },
  WEBHOOK_RETRY_FIRST_DELAY_MS: { schema: int(10, 3600000), default: '5000', doc: 'Webhook delivery: wait before the first retry; later waits grow exponentially (±20 % jitter) so that all retries span WEBHOOK_RETRY_WINDOW_SECONDS. A `Retry-After` asking for longer is honoured.' },
  WEBHOOK_RETRY_WINDOW_SECONDS: { schema: int(1, 2592000), default: '86400', doc: 'Webhook delivery: how long the retries of one message go on in all (default one day). Retries also end when the job\'s record expires (its ttl).' },
  WEBHOOK_PROGRESS_INTERVAL_MS: { schema: int(100, 3600000), default: '5000', doc: 'Webhooks: at most one `job.progress` message per job this often; the message carries the newest state when it is sent.' },
  WEBHOOK_CONCURRENCY: { schema: int(0, 1000), default: '10', doc: 'Webhook messages one worker process sends at once (every worker delivers, whatever its pools; 0: this worker delivers none). Messages of one job go out one at a time, in order.' },
  EXTRACT_TIMEOUT_MS: { schema: int(100, 600000), default: '5000', doc: 'Hard deadline of one article extraction (HTML parse + Readability) in its thread; past it the thread is killed and the job fails with `extraction_budget_exceeded`.' },
  EXTRACT_MAX_DEPTH: { schema: int(8, 100000), default: '256', doc: 'Pages nesting elements deeper than this are refused before extraction (`extraction_budget_exceeded`).' },
  EXTRACT_MAX_NODES: { schema: int(100, 10000000), default: '50000', doc: 'Pages with more elements and comments than this are refused before extraction (`extraction_budget_exceeded`).' },
  EXTRACT_THREADS: { schema: int(1, 64), default: '2', doc: 'Article extraction threads per process; more concurrent extractions wait for a free one.' },
  BATCH_MAX_SIZE: { schema: int(1, 256), default: '16', doc: 'Micro-batcher: most requests in one model batch.' },
  BATCH_MAX_DELAY_MS: { schema: int(0, 1000), default: '5', doc: 'Micro-batcher: longest wait to fill a batch.' },
  RATE_LIMIT_PER_MINUTE: {
    schema: int(0, 1000000),
    default: '0',
    doc: "Requests per minute per API key (a key's own `--rate-limit` takes precedence) and per client IP for anonymous calls (0: off), counted in Redis so every gateway replica shares it; `429 rate_limited` with `Retry-After` and `RateLimit-*` headers.",
  },
  TRUST_PROXY: {
    schema: trustProxy,
    default: 'false',
    doc: 'Proxies whose `X-Forwarded-For` the gateway believes (client IP for rate limits and logs): `false` (none), a hop count, or comma-separated addresses/CIDRs. `true` trusts anyone and lets clients choose their own IP.',
  },
  CORS_ORIGINS: { schema: z.string().default('').pipe(list).pipe(z.array(origin)), default: undefined, doc: 'Browser origins allowed to call the API cross-origin, comma-separated (`https://app.example.com`). Unset: same-origin only.' },
  // Access (API keys are managed with `curator keys`, in Redis; see docs/security.md).
  HSTS_MAX_AGE_SECONDS: { schema: int(0, 63072000), default: '0', doc: 'Gateway: `Strict-Transport-Security: max-age=N; includeSubDomains` on every response (0: not sent). Set it only where clients reach the gateway over HTTPS.' },
  CONTENT_POLICY_TERMS: {
    schema: z.string().default('').pipe(list),
    default: undefined,
    doc: 'Terms (words or phrases, comma-separated) refused in text-to-image prompts, negative prompts and curate image prefixes (`422 content_policy`) and in a curate job\'s generated text before its image (the job fails `content_policy`). Matched as whole words whatever the case, accents, spacing or punctuation.',
  },
  CONTENT_POLICY_PATTERNS: {
    schema: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (!text) return [];
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings' });
          return z.NEVER;
        }
      })
      .pipe(z.array(z.string().min(1).max(1000)).max(1000)),
    default: undefined,
    doc: 'Regular expressions (RE2 syntax, a JSON array: `["\\\\bfoo\\\\d+"]`) refused like CONTENT_POLICY_TERMS, case-insensitive, run by a linear-time engine (no pattern can stall a check).',
  },
  CONTENT_POLICY_FILE: { schema: z.string().optional(), default: undefined, doc: 'JSON file `{ "terms": [...], "patterns": [...] }` added to CONTENT_POLICY_TERMS and CONTENT_POLICY_PATTERNS (for long lists).' },
  REDIS_COMMAND_TIMEOUT_MS: { schema: int(50, 60000), default: '2000', doc: 'Gateway: longest wait for a Redis command; past it, or while Redis is down, requests answer `503 queue_unavailable` with `Retry-After`.' },
  CURATOR_URL: { schema: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }), default: 'http://localhost:8080', doc: 'The gateway the `curator` job commands (`submit`, `status`, `watch`, `cancel`, `rerun`, `retry`) call; `--url` overrides it.' },
  CURATOR_API_KEY: { schema: z.string().optional(), default: undefined, doc: 'API key the `curator` job commands send as `Authorization: Bearer`; `--api-key` overrides it.' },
} as const;

type Variables = typeof variables;
export type VariableName = keyof Variables;
export type Env = { [K in VariableName]: z.output<Variables[K]['schema']> };

const isSecretName = (name: string) => /SECRET|TOKEN|PASSWORD|API_KEY/.test(name);

/** Reads and validates every variable; a wrong value names the variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(variables) as [VariableName, Variables[VariableName]][]) {
    const raw = source[name] === '' ? undefined : (source[name] ?? spec.default);
    const parsed = (spec.schema as z.ZodType).safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    // A secret's value is never echoed, even a malformed one (it is likely still a real secret).
    else problems.push(`${name}=${isSecretName(name) ? '(hidden)' : JSON.stringify(source[name])}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length > 0) throw new CuratorConfigError(problems);
  return out as Env;
}

/** Markdown table of every variable, for the README. */
export function configMarkdownTable(): string {
  const rows = Object.entries(variables).map(([name, spec]) => `| \`${name}\` | ${spec.default === undefined ? '—' : `\`${spec.default}\``} | ${spec.doc} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
