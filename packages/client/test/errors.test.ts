import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorFromResponse, retryAfterSeconds } from '../src/errors.ts';
import { CuratorClient } from '../src/index.ts';

test("an error body becomes the error's code, message and details; codes newer than this client are kept", async () => {
  const body = { error: { code: 'content_policy', message: 'The prompt names a blocked term', details: [{ path: 'params.imagePrefix', message: 'blocked term' }] } };
  const error = await errorFromResponse(new Response(JSON.stringify(body), { status: 422, headers: { 'content-type': 'application/json' } }));
  assert.equal(error.status, 422);
  assert.equal(error.code, 'content_policy');
  assert.equal(error.message, 'The prompt names a blocked term');
  assert.deepEqual(error.details, body.error.details);
  assert.equal(error.retryAfterSeconds, null);
});

test('a response without the error body (a proxy page) is `unexpected_response` with its status', async () => {
  const error = await errorFromResponse(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
  assert.equal(error.status, 502);
  assert.equal(error.code, 'unexpected_response');
  assert.match(error.message, /502 Bad Gateway/);
});

test('Retry-After in seconds or as a date; rate limits carry it', async () => {
  assert.equal(retryAfterSeconds('7'), 7);
  assert.equal(retryAfterSeconds(null), null);
  assert.equal(retryAfterSeconds('soon'), null);
  assert.equal(retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30);
  const limited = await errorFromResponse(new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'Too many requests' } }), { status: 429, headers: { 'retry-after': '12' } }));
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.retryAfterSeconds, 12);
});

test('outside a browser page the client needs a base URL', () => {
  assert.throws(() => new CuratorClient(), /baseUrl/);
  assert.equal(new CuratorClient({ baseUrl: 'http://localhost:8080/' }).baseUrl, 'http://localhost:8080');
});
