// Who the client is (trusted proxies), how much it may ask (a rate limit every replica shares), and
// which browser origins may call (CORS).
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
  for (let i = 0; i < 5; i++) statuses.push((await lookup(app, '10.1.0.1', `203.0.113.${i}`)).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  const limited = await lookup(app, '10.1.0.1', '203.0.113.99');
  assert.equal(limited.json().error.code, 'rate_limited');
  assert.ok(limited.headers['retry-after'], 'says when to come back');
});

test('behind a trusted proxy each forwarded client has its own limit', async () => {
  const app = await gateway({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '10.2.0.1' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await lookup(app, '10.2.0.1', `198.51.100.${i}`)).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  // The same forwarded client, again and again, is limited.
  for (let i = 0; i < 3; i++) await lookup(app, '10.2.0.1', '198.51.100.200');
  assert.equal((await lookup(app, '10.2.0.1', '198.51.100.200')).statusCode, 429);
  // A client that is not the trusted proxy cannot choose its address.
  const direct = await gateway({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '10.2.0.1' });
  const spoofed: number[] = [];
  for (let i = 0; i < 4; i++) spoofed.push((await lookup(direct, '10.2.0.77', `192.0.2.${i}`)).statusCode);
  assert.deepEqual(spoofed, [200, 200, 200, 429]);
});

test('every replica counts against the same limit (kept in Redis)', async () => {
  const one = await gateway({ RATE_LIMIT_PER_MINUTE: '4' });
  const two = await gateway({ RATE_LIMIT_PER_MINUTE: '4' });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await lookup(i % 2 === 0 ? one : two, '10.3.0.1')).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
});

test('probes and scrapes are never limited, whatever their query string', async () => {
  const app = await gateway({ RATE_LIMIT_PER_MINUTE: '1' });
  await lookup(app, '10.4.0.1');
  assert.equal((await lookup(app, '10.4.0.1')).statusCode, 429);
  for (const url of ['/metrics', '/metrics?x=1', '/healthz?probe=1']) {
    const res = await app.inject({ method: 'GET', url, remoteAddress: '10.4.0.1' });
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
