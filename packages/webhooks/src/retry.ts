/**
 * When a failed delivery is tried again: exponential backoff from a first delay, with the growth
 * factor chosen so that all the retries together span the retry window (the spec's example schedule
 * spans days; the default here spans one day, like most providers), and ±20 % jitter so that
 * receivers failing at once are not hit again all at once.
 */
export interface RetrySchedule {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** Wait before the first retry. */
  firstDelayMs: number;
  /** The retries together wait about this long. */
  windowMs: number;
}

export const jitter = 0.2;

/** The growth factor r ≥ 1 with first·(1 + r + … + r^(n−1)) = window, found by bisection. */
function growthFactor(retries: number, firstDelayMs: number, windowMs: number): number {
  const total = (r: number) => (r === 1 ? firstDelayMs * retries : (firstDelayMs * (r ** retries - 1)) / (r - 1));
  if (retries <= 1 || total(1) >= windowMs) return 1;
  let low = 1;
  let high = 2;
  while (total(high) < windowMs) high *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (total(mid) < windowMs) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/** The waits before each retry, without jitter: `attempts − 1` of them. */
export function retryDelays(schedule: RetrySchedule): number[] {
  const retries = Math.max(0, schedule.attempts - 1);
  const r = growthFactor(retries, schedule.firstDelayMs, schedule.windowMs);
  return Array.from({ length: retries }, (_, k) => Math.round(schedule.firstDelayMs * r ** k));
}

/**
 * The wait before retry number `retry` (1: after the first attempt failed), jittered; at least what
 * the receiver asked for with Retry-After, though never longer than the whole window.
 */
export function retryDelayMs(schedule: RetrySchedule, retry: number, options: { retryAfterMs?: number | null; random?: () => number } = {}): number {
  const delays = retryDelays(schedule);
  const base = delays[Math.min(Math.max(retry, 1), delays.length) - 1] ?? schedule.firstDelayMs;
  const jittered = Math.round(base * (1 - jitter + 2 * jitter * (options.random ?? Math.random)()));
  const asked = options.retryAfterMs == null ? 0 : Math.min(options.retryAfterMs, schedule.windowMs);
  return Math.max(jittered, asked);
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | readonly string[] | undefined, now = Date.now()): number | null {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
