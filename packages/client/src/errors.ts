import { z } from 'zod';
import { detailsFromZod, errorDetailSchema, errorInfoSchema, type ErrorCode, type ErrorDetail } from '@curator/contracts';

/**
 * Codes the client itself reports, never sent by a server: the server could not be reached, it
 * answered without Curator's error body (a proxy's page), or its answer broke the contract (a
 * client and server of different versions).
 */
export const clientErrorCodes = ['unreachable', 'unexpected_response', 'invalid_response'] as const;
export type ClientErrorCode = (typeof clientErrorCodes)[number];

/**
 * A code as the API or the client reports it. A server newer than this client may send a code the
 * contracts here do not list yet, so any string is accepted; the known ones autocomplete.
 */
export type ApiErrorCode = ErrorCode | ClientErrorCode | (string & {});

/** The API's error body, read leniently on `code` (see ApiErrorCode): the rest is the contract's. */
const errorBodySchema = z.object({ error: errorInfoSchema.extend({ code: z.string(), details: z.array(errorDetailSchema).optional() }) });

export interface CuratorApiErrorInit {
  status: number;
  code: ApiErrorCode;
  message: string;
  details?: readonly ErrorDetail[];
  retryAfterSeconds?: number | null;
  cause?: unknown;
}

/** A refused or failed request, carrying the API's `{ code, message, details }` and the HTTP status (0: no answer). */
export class CuratorApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: readonly ErrorDetail[];
  /** From `Retry-After` (429 rate limits, 503 while a store is away); null when the server gave none. */
  readonly retryAfterSeconds: number | null;

  constructor(init: CuratorApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'CuratorApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }
}

export function isCuratorApiError(value: unknown): value is CuratorApiError {
  return value instanceof CuratorApiError;
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The error a non-2xx response stands for, from its `{ error: { code, message, details } }` body. */
export async function errorFromResponse(response: Response): Promise<CuratorApiError> {
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = errorBodySchema.safeParse(json);
  if (parsed.success) {
    const { code, message, details } = parsed.data.error;
    return new CuratorApiError({ status: response.status, code, message, details: details ?? [], retryAfterSeconds: retryAfter });
  }
  return new CuratorApiError({
    status: response.status,
    code: 'unexpected_response',
    message: `The server answered ${response.status} ${response.statusText} without an error body${text ? `: ${text.slice(0, 200)}` : ''}`.trim(),
    retryAfterSeconds: retryAfter,
  });
}

/** A response body that does not match its schema in the contracts. */
export function invalidResponse(status: number, what: string, error: z.ZodError): CuratorApiError {
  const details = detailsFromZod(error);
  return new CuratorApiError({
    status,
    code: 'invalid_response',
    message: `${what} did not match the API contract (${details[0] ? `${details[0].path}: ${details[0].message}` : 'unknown shape'}); are the client and the server the same version?`,
    details,
  });
}
