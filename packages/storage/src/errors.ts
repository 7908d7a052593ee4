import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { CuratorError, isCuratorError } from '@curator/contracts';

interface S3ErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function statusOf(error: unknown): number | undefined {
  return (error as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function nameOf(error: unknown): string | undefined {
  const shape = error as S3ErrorShape | undefined;
  return shape?.name ?? shape?.Code;
}

export function isMissing(error: unknown): boolean {
  const name = nameOf(error);
  return statusOf(error) === 404 || name === 'NotFound' || name === 'NoSuchKey';
}

/**
 * Worth another try: the AWS SDK's own notion of transient (connection refused/reset, timeouts, 500/502/503/504,
 * DNS and routing failures), throttling (429, SlowDown) and any other 5xx. A 4xx such as AccessDenied or
 * NoSuchBucket is an answer and is not retried.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const sdkError = error as Parameters<typeof isTransientError>[0];
  return isTransientError(sdkError) || isThrottlingError(sdkError) || isServerError(sdkError);
}

const socketReasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** S3 error codes are identifiers; anything else a server sends is not repeated. */
function safeName(error: unknown): string | undefined {
  const name = nameOf(error);
  return name && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name) && name !== 'Error' ? name : undefined;
}

/**
 * What went wrong, in words that can reach a client: an HTTP status, an S3 error code or a kind of socket failure.
 * SDK messages are never repeated: they name the endpoint (`connect ECONNREFUSED 10.0.3.7:8333`).
 */
export function describeFailure(error: unknown): string {
  const status = statusOf(error);
  const name = safeName(error);
  if (status !== undefined) return name ? `HTTP ${status} ${name}` : `HTTP ${status}`;
  const code = (error as S3ErrorShape | undefined)?.code;
  const socketReason = code ? socketReasons[code] : undefined;
  if (socketReason) return socketReason;
  if (name === 'TimeoutError') return 'timed out';
  return name ?? 'unknown error';
}

function formatWindow(windowMs: number): string {
  const seconds = windowMs / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

/**
 * Maps a failure to a CuratorError whose message names no host, address or port (the full error stays in `cause`,
 * for the worker's log). Transient failures are retryable: the store may be back by the next attempt of the job.
 */
export function storageError(operation: string, error: unknown, windowMs = 0): CuratorError {
  if (isCuratorError(error)) return error;
  const reason = describeFailure(error);
  if (isTransientStorageError(error)) {
    const how = windowMs > 0 ? `did not answer for ${formatWindow(windowMs)}` : 'did not answer';
    return new CuratorError('storage_unavailable', `Object storage ${how} (${operation}: ${reason})`, { retryable: true, cause: error });
  }
  const verb = statusOf(error) === undefined ? 'failed' : 'refused';
  return new CuratorError('storage_unavailable', `Object storage ${verb} ${operation} (${reason})`, { retryable: false, cause: error });
}

/** The caller's reason to stop, as a CuratorError (`canceled` unless the caller gave one). */
export function abortError(signal: AbortSignal, operation: string): CuratorError {
  const reason: unknown = signal.reason;
  if (isCuratorError(reason)) return reason;
  return new CuratorError('canceled', `${operation} was canceled`, { cause: reason });
}
