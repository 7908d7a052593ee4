import {
  CuratorError,
  batchRequestSchema,
  jobRequestSchema,
  parseOrThrow,
  type ErrorDetail,
  type JobRequest,
  type JobType,
} from '@curator/contracts';
import { requestFingerprint } from '@curator/queue';

export interface Submission {
  requests: JobRequest[];
  batch: boolean;
}

/**
 * Parses `POST /jobs`: one job, or `{ jobs: [...] }`. The two shapes are told apart first so a
 * wrong field is named precisely (a plain union would only say "invalid input").
 */
export function parseSubmission(body: unknown, limits: { maxArticleChars: number; availableJobTypes: ReadonlySet<JobType> }): Submission {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'jobs' in body;
  const requests = isBatch ? parseOrThrow(batchRequestSchema, body).jobs : [parseOrThrow(jobRequestSchema, body)];
  const prefix = (index: number) => (isBatch ? `jobs.${index}.` : '');

  const tooLong: ErrorDetail[] = [];
  requests.forEach((request, index) => {
    if ('text' in request.input && request.input.text.length > limits.maxArticleChars) {
      tooLong.push({ path: `${prefix(index)}input.text`, message: `is ${request.input.text.length} characters; the limit is ${limits.maxArticleChars}` });
    }
  });
  if (tooLong.length > 0) throw new CuratorError('text_too_long', `Article text over ${limits.maxArticleChars} characters`, { details: tooLong });

  checkAvailable(requests, limits.availableJobTypes, prefix);
  return { requests, batch: isBatch };
}

/** Job types this build does not run are 501, the field named. */
export function checkAvailable(requests: JobRequest[], available: ReadonlySet<JobType>, prefix: (index: number) => string = () => ''): void {
  const unavailable: ErrorDetail[] = [];
  requests.forEach((request, index) => {
    if (!available.has(request.type)) unavailable.push({ path: `${prefix(index)}type`, message: `"${request.type}" is not available in this version yet` });
  });
  if (unavailable.length > 0) throw new CuratorError('not_implemented', 'Job type not available yet', { details: unavailable });
}

// ---------- the headers of job-creating requests ----------

type Headers = Record<string, string | string[] | undefined>;

const headerError = (name: string, message: string) =>
  new CuratorError('validation_failed', `Invalid ${name} header: ${message}`, { details: [{ path: `headers.${name}`, message }] });

const single = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** Longest `Cancel-After` accepted: a year, the longest a job record may live. */
const maxCancelAfterMs = 365 * 24 * 3600 * 1000;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `Cancel-After`: how long the job may wait for a worker, as seconds (`90`) or a duration (`90s`,
 * `5m`, `1h30m`, `500ms`). Null when absent; a value that is not one is 400 naming the header.
 */
export function parseCancelAfter(headers: Headers): number | null {
  const raw = single(headers, 'cancel-after')?.trim();
  if (raw === undefined) return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(raw)) ms = Number(raw) * 1000;
  else if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(raw)) {
    ms = 0;
    for (const [, amount, unit] of raw.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(amount) * unitMs[unit!]!;
  } else throw headerError('cancel-after', 'must be seconds (90) or a duration such as 90s, 5m or 1h30m');
  if (!(ms > 0)) throw headerError('cancel-after', 'must be longer than zero');
  if (ms > maxCancelAfterMs) throw headerError('cancel-after', 'must be at most a year');
  return Math.round(ms);
}

/**
 * `Idempotency-Key` (an opaque string of 1 to 255 visible ASCII characters; a quoted structured-field
 * string as the IETF draft writes it is taken without its quotes). Null when absent.
 */
export function parseIdempotencyKey(headers: Headers): string | null {
  const raw = single(headers, 'idempotency-key');
  if (raw === undefined) return null;
  const key = /^"(.*)"$/.exec(raw.trim())?.[1] ?? raw.trim();
  if (key.length === 0 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) throw headerError('idempotency-key', 'must be 1 to 255 visible ASCII characters');
  return key;
}

/**
 * `Prefer: wait[=seconds]` (RFC 7240): the seconds to wait for the job to finish, bounded by
 * `maxSeconds` (`wait` alone: `defaultSeconds`, bounded too). Null when not asked, when the value is
 * not a number of seconds (a preference a server does not understand is ignored), or when the
 * deployment never waits.
 */
export function parsePreferWait(headers: Headers, maxSeconds: number, defaultSeconds = 60): number | null {
  const raw = single(headers, 'prefer');
  if (!raw || maxSeconds <= 0) return null;
  for (const preference of raw.split(',')) {
    const [token, ...rest] = preference.split(';')[0]!.split('=');
    if (token!.trim().toLowerCase() !== 'wait') continue;
    const value = rest.join('=').trim().replace(/^"(.*)"$/, '$1');
    if (value === '') return Math.min(defaultSeconds, maxSeconds);
    if (!/^\d+$/.test(value)) return null;
    const seconds = Math.min(Number(value), maxSeconds);
    return seconds > 0 ? seconds : null;
  }
  return null;
}

/**
 * Each request's deadline: its own, or `now + cancelAfterMs` from the header, whichever comes first;
 * written in UTC (`...Z`) as the job view shows it.
 */
export function withDeadlines(requests: JobRequest[], cancelAfterMs: number | null, now = Date.now()): JobRequest[] {
  return requests.map((request) => {
    const own = request.deadline ? Date.parse(request.deadline) : Infinity;
    const fromHeader = cancelAfterMs === null ? Infinity : now + cancelAfterMs;
    const deadline = Math.min(own, fromHeader);
    return Number.isFinite(deadline) ? { ...request, deadline: new Date(deadline).toISOString() } : request;
  });
}

/**
 * What an Idempotency-Key stands for: the request as parsed (defaults applied, so key order and
 * whitespace do not matter) and the Cancel-After header as sent (not the deadline computed from
 * it, which differs on every retry).
 */
export function submissionFingerprint(route: string, body: unknown, headers: Headers): string {
  return requestFingerprint({ route, body, cancelAfter: single(headers, 'cancel-after')?.trim() ?? null });
}
