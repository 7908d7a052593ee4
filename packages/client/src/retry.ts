import type { CuratorApiError } from './errors.ts';

export interface RetryPolicy {
  /** Tries after the first one. Default 3. */
  retries?: number;
  /** The first pause; each later one doubles (with jitter). Default 500 ms. */
  baseDelayMs?: number;
  /**
   * The longest pause before a retry. A `Retry-After` longer than this is not waited out: the error
   * is thrown at once, with `retryAfterSeconds` set, for the caller to decide. Default 30 s.
   */
  maxDelayMs?: number;
}

const defaults = { retries: 3, baseDelayMs: 500, maxDelayMs: 30_000 } as const;

/**
 * Whether the failure may pass if the same request is sent again: a 429 `rate_limited` always (the
 * server refused before doing anything); no answer at all, or a 503, only for a request that is
 * safe to repeat (a read, or a write the server recognises again by its Idempotency-Key), since the
 * server may have acted before the answer was lost. A 429 `quota_exceeded` never: the quota is daily.
 */
export function isRetryable(error: CuratorApiError, repeatable: boolean): boolean {
  if (error.status === 429) return error.code === 'rate_limited';
  if (!repeatable) return false;
  return error.code === 'unreachable' || error.status === 503;
}

/** How long to wait before try `attempt + 1`, or null when the error should be thrown now. */
export function retryDelayMs(error: CuratorApiError, attempt: number, policy: RetryPolicy & { repeatable: boolean }, random: () => number = Math.random): number | null {
  const { retries, baseDelayMs, maxDelayMs } = { ...defaults, ...policy };
  if (attempt > retries || !isRetryable(error, policy.repeatable)) return null;
  if (error.retryAfterSeconds !== null) {
    const asked = error.retryAfterSeconds * 1000;
    return asked > maxDelayMs ? null : asked;
  }
  // Jitter keeps many clients that failed together from retrying together.
  const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(backoff / 2 + random() * (backoff / 2));
}
