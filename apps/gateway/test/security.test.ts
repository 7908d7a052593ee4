// Who the client is (trusted proxies), how much it may ask (a rate limit every replica shares),
// which browser origins may call (CORS), security headers and body limits. These gateways run open
// (no API keys), so their anonymous clients are loopback addresses (all of 127.0.0.0/8), each
// limited by its own address; limits per API key are in access.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadEnv } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let storage: ObjectStorage;
const opened: Array<{ app: Gateway; queues: JobQueues }> = [];

before(async () => {
  t = await testEnvironment({ roles: [] });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
});

after(async () => {
  for (const { app, queues } of opened) {
    await app.close();
    await queues.close();
  }
  storage.close();
  await t.close();
});

/** A gateway replica on the test's Redis and prefix, with these settings. */
async function gateway(vars: Record<string, string>): Promise<Gateway> {
  const env = loadEnv({ ...t.vars, ...vars });
  const queues = createJobQueues(env, createLogger('test', 'silent'));
  await queues.ready();
  const app = await buildGateway({ env, queues, storage, metrics: createMetrics({ process: 'gateway' }) });
  await app.ready();
  opened.push({ app, queues });
  return app;
}

const lookup = (app: Gateway, remoteAddress: string, forwardedFor?: string) =>
  app.inject({ method: 'GET', url: '/jobs?ids=1b4e28ba-2fa1-41d2-883f-0e1e5e3a6c2d', remoteAddress, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

test('by default no proxy is trusted: a client rotating X-Forwarded-For is still limited by its own address', async () => {
  const app = await gateway({ RATE_LIMIT_PER_MINUTE: '3' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await lookup(app, '127.0.1.1', `127.0.2.${i}`)).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  const limited = await lookup(app, '127.0.1.1', '127.0.2.99');
  assert.equal(limited.json().error.code, 'rate_limited');
  assert.match(limited.json().error.message, /3 requests per minute from this address/);
  assert.ok(Number(limited.headers['retry-after']) >= 1, 'says when to come back');
  assert.equal(limited.headers['ratelimit-limit'], '3');
  assert.equal(limited.headers['ratelimit-remaining'], '0');
  assert.ok(Number(limited.headers['ratelimit-reset']) >= 1);
});

test('behind a trusted proxy each forwarded client has its own limit', async () => {
  const app = await gateway({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '127.0.3.1' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await lookup(app, '127.0.3.1', `127.0.3.${i + 10}`)).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  // The same forwarded client, again and again, is limited.
  for (let i = 0; i < 3; i++) await lookup(app, '127.0.3.1', '127.0.3.200');
  assert.equal((await lookup(app, '127.0.3.1', '127.0.3.200')).statusCode, 429);
  // A client that is not the trusted proxy cannot choose its address.
  const direct = await gateway({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '127.0.3.1' });
  const spoofed: number[] = [];
  for (let i = 0; i < 4; i++) spoofed.push((await lookup(direct, '127.0.3.77', `127.0.4.${i}`)).statusCode);
  assert.deepEqual(spoofed, [200, 200, 200, 429]);
});

test('every replica counts against the same limit (kept in Redis)', async () => {
  const one = await gateway({ RATE_LIMIT_PER_MINUTE: '4' });
  const two = await gateway({ RATE_LIMIT_PER_MINUTE: '4' });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await lookup(i % 2 === 0 ? one : two, '127.0.5.1')).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
});

test('probes and scrapes are never limited, whatever their query string', async () => {
  const app = await gateway({ RATE_LIMIT_PER_MINUTE: '1' });
  await lookup(app, '127.0.6.1');
  assert.equal((await lookup(app, '127.0.6.1')).statusCode, 429);
  for (const url of ['/metrics', '/metrics?x=1', '/healthz?probe=1']) {
    const res = await app.inject({ method: 'GET', url, remoteAddress: '127.0.6.1' });
    assert.equal(res.statusCode, 200, url);
  }
});

test('CORS: with no origins configured, preflights are answered but no origin is allowed', async () => {
  const app = await gateway({});
  const preflight = await app.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' } });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  const read = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://elsewhere.example' } });
  assert.equal(read.headers['access-control-allow-origin'], undefined);
});

test('CORS: a configured origin may call, others may not', async () => {
  const app = await gateway({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' });
  const allowed = await app.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  assert.equal(allowed.statusCode, 204);
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(allowed.headers['access-control-allow-methods']), /POST/);
  const read = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://localhost:5173' } });
  assert.equal(read.headers['access-control-allow-origin'], 'http://localhost:5173');
  const other = await app.inject({ method: 'OPTIONS', url: '/jobs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});

test('CORS: a browser client may send its key and the job headers, and read the location, Retry-After and rate limit headers', async () => {
  const app = await gateway({ CORS_ORIGINS: 'https://app.example.com' });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/jobs',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key, prefer, cancel-after' },
  });
  assert.equal(preflight.statusCode, 204);
  const allowed = String(preflight.headers['access-control-allow-headers']).split(',').map((h) => h.trim());
  for (const header of ['authorization', 'content-type', 'idempotency-key', 'prefer', 'cancel-after', 'last-event-id']) assert.ok(allowed.includes(header), header);
  assert.equal(preflight.headers['access-control-allow-credentials'], undefined, 'no cookies: keys travel in Authorization');
  const read = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://app.example.com' } });
  const exposed = String(read.headers['access-control-expose-headers']).split(',').map((h) => h.trim());
  for (const header of ['location', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'preference-applied']) assert.ok(exposed.includes(header), header);
});

test('security headers on API answers, errors included; HSTS only when configured; Swagger UI keeps its scripts', async () => {
  const app = await gateway({});
  for (const url of ['/healthz', '/jobs/not-a-job', '/no-such-route']) {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(res.headers['x-frame-options'], 'DENY', url);
    assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
    assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", url);
    assert.equal(res.headers['strict-transport-security'], undefined, url);
  }
  const docs = await app.inject({ method: 'GET', url: '/docs/static/index.html' });
  assert.equal(docs.headers['content-security-policy'], "frame-ancestors 'none'");
  const hsts = await gateway({ HSTS_MAX_AGE_SECONDS: '31536000' });
  assert.equal((await hsts.inject({ method: 'GET', url: '/healthz' })).headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
});

test('body limits: POST /jobs takes a batch of articles, every other POST route a small body', async () => {
  const app = await gateway({});
  const big = JSON.stringify({ note: 'x'.repeat(100_000) });
  const cancel = await app.inject({ method: 'POST', url: '/jobs/1b4e28ba-2fa1-41d2-883f-0e1e5e3a6c2d/cancel', headers: { 'content-type': 'application/json' }, payload: big });
  assert.equal(cancel.statusCode, 413);
  assert.equal(cancel.json().error.code, 'payload_too_large');
  const submit = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ type: 'classify', input: { text: 'y'.repeat(90_000) } }) });
  assert.equal(submit.statusCode, 202, submit.body);
});
