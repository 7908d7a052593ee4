import {
  CuratorError,
  batchRequestSchema,
  jobRequestSchema,
  parseOrThrow,
  type ErrorDetail,
  type JobRequest,
  type JobType,
} from '@curator/contracts';

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

  const unavailable: ErrorDetail[] = [];
  requests.forEach((request, index) => {
    if (!limits.availableJobTypes.has(request.type)) unavailable.push({ path: `${prefix(index)}type`, message: `"${request.type}" is not available in this version yet` });
  });
  if (unavailable.length > 0) throw new CuratorError('not_implemented', 'Job type not available yet', { details: unavailable });

  return { requests, batch: isBatch };
}
