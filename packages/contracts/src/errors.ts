import { z } from 'zod';

/**
 * Every failure Curator reports carries one of these codes. Clients branch on the code,
 * never on the message, so a code once published keeps its meaning.
 */
export const errorCodes = {
  validation_failed: 400,
  invalid_json: 400,
  payload_too_large: 413,
  text_too_long: 413,
  unsupported_media_type: 415,
  not_found: 404,
  job_not_found: 404,
  method_not_allowed: 405,
  url_too_long: 414,
  headers_too_large: 431,
  conflict: 409,
  job_not_cancelable: 409,
  rate_limited: 429,
  // Access (issue 10): no or a wrong API key; a key without the scope a route needs; its daily job quota spent.
  unauthorized: 401,
  forbidden: 403,
  quota_exceeded: 429,
  // The same Idempotency-Key with another request body.
  idempotency_conflict: 409,
  // Retry is for failed or expired jobs only.
  job_not_retryable: 409,
  // A prompt or generated text the deployment's content policy refuses (no image is generated).
  content_policy: 422,
  // A job whose deadline passed before a worker started it (status `expired`).
  deadline_exceeded: 408,
  not_implemented: 501,
  internal_error: 500,
  // Failures of a job (reported in the job's `error`, not as HTTP status of the request).
  bad_input: 422,
  fetch_failed: 422,
  fetch_blocked: 422,
  fetch_too_large: 422,
  fetch_timeout: 422,
  unsupported_content: 422,
  extraction_failed: 422,
  // A page too deep, too large or too slow to extract within its budget (not retried: it would overrun again).
  extraction_budget_exceeded: 422,
  model_missing: 503,
  model_load_failed: 503,
  inference_failed: 500,
  storage_unavailable: 503,
  queue_unavailable: 503,
  canceled: 499,
  // The job's worker died (SIGKILL, OOM, lost node) as often as the job has attempts.
  worker_lost: 500,
  worker_shutdown: 503,
  download_failed: 502,
  checksum_mismatch: 502,
  device_unavailable: 503,
  // A model checkpoint file that is malformed, truncated or asks to run code (refused, never loaded).
  checkpoint_invalid: 422,
  // A model config asks for an architecture variant the graph builders do not build (refused, not approximated).
  model_unsupported: 422,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorCodes;
export const errorCodeSchema = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

export const errorDetailSchema = z.object({
  path: z.string().describe('Dotted path of the offending field, e.g. "jobs.0.input.text"'),
  message: z.string(),
});
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

export const errorInfoSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  details: z.array(errorDetailSchema).optional(),
});
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

/** The one shape of every HTTP error body. */
export const errorBodySchema = z.object({ error: errorInfoSchema }).meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export interface CuratorErrorOptions {
  details?: ErrorDetail[];
  cause?: unknown;
  /** A failure that may pass if tried again later (storage down, Redis blip). */
  retryable?: boolean;
}

export class CuratorError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: CuratorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CuratorError';
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
  }

  get status(): number {
    return errorCodes[this.code];
  }

  toInfo(): ErrorInfo {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }

  toBody(): ErrorBody {
    return { error: this.toInfo() };
  }
}

export function isCuratorError(value: unknown): value is CuratorError {
  return value instanceof CuratorError;
}

/** Turns zod issues into `{ path, message }` details with dotted paths. */
export function detailsFromZod(error: z.ZodError, prefix: readonly (string | number)[] = []): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/** Parses `value` with `schema` or throws a `CuratorError` naming every wrong field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, code: ErrorCode = 'validation_failed'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = detailsFromZod(parsed.error);
  const first = details[0];
  throw new CuratorError(code, first ? `Invalid ${first.path}: ${first.message}` : 'Invalid input', { details });
}
