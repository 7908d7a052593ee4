import pRetry from 'p-retry';
import { abortError, isTransientStorageError, storageError } from './errors.ts';

export interface StorageRetryEvent {
  /** The S3 operation, e.g. `PutObject`. */
  operation: string;
  key: string | undefined;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Wait before the next attempt. */
  retryInMs: number;
  /** The full failure (it may name the endpoint): for logs only. */
  error: unknown;
}

export interface RetryPolicy {
  /** How long transient failures are retried, from the first attempt; 0 makes one attempt. */
  windowMs: number;
  onRetry?: ((event: StorageRetryEvent) => void) | undefined;
}

// Full-jitter-like spread (x1 to x2) so workers that lost the store together do not come back in lockstep; the cap
// keeps the gap between the store's return and the next attempt short.
const backoff = { minTimeout: 100, factor: 2, maxTimeout: 5_000, randomize: true } as const;

/**
 * Runs `attempt` until it succeeds, fails with a non-transient error, the window is over, or `signal` aborts
 * (which also ends the wait between attempts and the request in flight).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  operation: string,
  key: string | undefined,
  signal: AbortSignal | undefined,
  attempt: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  try {
    return await pRetry(() => attempt(signal), {
      ...backoff,
      retries: Number.POSITIVE_INFINITY,
      maxRetryTime: policy.windowMs,
      ...(signal ? { signal } : {}),
      shouldRetry: ({ error, attemptNumber, retryDelay }) => {
        if (!isTransientStorageError(error)) return false;
        policy.onRetry?.({ operation, key, attempt: attemptNumber, retryInMs: retryDelay, error });
        return true;
      },
    });
  } catch (error) {
    if (signal?.aborted) throw abortError(signal, operation);
    throw storageError(operation, error, policy.windowMs);
  }
}
