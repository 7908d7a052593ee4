import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CuratorApiError } from '../src/errors.ts';
import { newIdempotencyKey, uuidV4 } from '../src/ids.ts';
import { retryDelayMs } from '../src/retry.ts';

const error = (status: number, code: string, retryAfterSeconds: number | null = null) => new CuratorApiError({ status, code, message: code, retryAfterSeconds });
const half = () => 0.5;

test('a rate limit is retried after its Retry-After, whatever the request; a daily quota never', () => {
  assert.equal(retryDelayMs(error(429, 'rate_limited', 2), 1, { repeatable: false }), 2000);
  assert.equal(retryDelayMs(error(429, 'quota_exceeded', 2), 1, { repeatable: true }), null);
  // Longer than the policy waits: thrown at once, for the caller to decide.
  assert.equal(retryDelayMs(error(429, 'rate_limited', 120), 1, { repeatable: true, maxDelayMs: 30_000 }), null);
});

test('no answer and 503 are retried only for requests safe to repeat (reads, submits with an Idempotency-Key)', () => {
  assert.equal(retryDelayMs(error(0, 'unreachable'), 1, { repeatable: false }), null);
  assert.equal(retryDelayMs(error(503, 'queue_unavailable', 5), 1, { repeatable: false }), null);
  assert.equal(retryDelayMs(error(503, 'queue_unavailable', 5), 1, { repeatable: true }), 5000);
  assert.equal(retryDelayMs(error(0, 'unreachable'), 1, { repeatable: true }, half), 375);
  for (const refusal of [error(400, 'validation_failed'), error(404, 'job_not_found'), error(409, 'idempotency_conflict'), error(500, 'internal_error')]) {
    assert.equal(retryDelayMs(refusal, 1, { repeatable: true }), null, refusal.code);
  }
});

test('the backoff doubles up to its bound, and the tries end', () => {
  const delays = [1, 2, 3, 4].map((attempt) => retryDelayMs(error(0, 'unreachable'), attempt, { repeatable: true, retries: 4, baseDelayMs: 1000, maxDelayMs: 3000 }, () => 1));
  assert.deepEqual(delays, [1000, 2000, 3000, 3000]);
  assert.equal(retryDelayMs(error(0, 'unreachable'), 5, { repeatable: true, retries: 4 }), null);
  assert.equal(retryDelayMs(error(0, 'unreachable'), 1, { repeatable: true, retries: 0 }), null);
});

test('idempotency keys are random UUIDv4s', () => {
  const keys = Array.from({ length: 50 }, newIdempotencyKey);
  for (const key of keys) assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(keys).size, keys.length);
  // Where a page has no randomUUID (plain http away from localhost): made from getRandomValues' bytes.
  assert.equal(uuidV4(new Uint8Array(16).fill(0xff)), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
  assert.equal(uuidV4(new Uint8Array(16)), '00000000-0000-4000-8000-000000000000');
});
