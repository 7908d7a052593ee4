// The gateway's web plugin (apps/gateway/src/plugins/web.ts) on the real gateway app, as app.ts will
// register it: the studio's files with their headers at `/`, the API and its errors untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../../gateway/src/index.ts';
import { webStudio, webStudioOptionsFromEnv } from '../../gateway/src/plugins/web.ts';
import { ensureWebBuild, studioContentSecurityPolicy, webDistDir } from '../src/index.ts';

let t: TestEnvironment;
let app: Gateway;
let storage: ObjectStorage;
let close: () => Promise<void>;

before(async () => {
  await ensureWebBuild();
  t = await testEnvironment({ roles: [] });
  const logger = createLogger('test', 'silent');
  const queues = createJobQueues(t.env, logger);
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }), logger });
  // Once app.ts registers the plugin itself, this test checks that registration instead.
  if (!app.hasRoute({ method: 'GET', url: '/' })) await app.register(webStudio, { ...webStudioOptionsFromEnv(t.env), build: false });
  await app.ready();
  close = async () => {
    await app.close();
    await queues.close();
  };
});
after(async () => {
  await close?.();
  storage?.close();
  await t?.close();
});

test('`/` is the studio, with a strict CSP that lets the card pictures come from S3, revalidated on every load', async () => {
  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /^text\/html/);
  assert.match(index.body, /<div id="app"><\/div>/);
  assert.equal(index.headers['content-security-policy'], studioContentSecurityPolicy({ imageOrigins: [t.env.S3_ENDPOINT!] }));
  assert.match(String(index.headers['content-security-policy']), new RegExp(`img-src 'self' ${new URL(t.env.S3_ENDPOINT!).origin};`));
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.equal(index.headers['x-content-type-options'], 'nosniff');
  const etag = String(index.headers.etag);
  const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
  assert.equal(again.statusCode, 304);
});

test('hashed assets are cached for a year; HEAD works', async () => {
  const asset = readdirSync(join(webDistDir, 'assets')).find((name) => name.endsWith('.js'))!;
  const script = await app.inject({ method: 'GET', url: `/assets/${asset}` });
  assert.equal(script.statusCode, 200);
  assert.match(String(script.headers['content-type']), /javascript/);
  assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
  const head = await app.inject({ method: 'HEAD', url: `/assets/${asset}` });
  assert.equal(head.statusCode, 200);
});

test('the API, its docs and its JSON 404 are untouched; the studio is not in the OpenAPI document', async () => {
  const unknown = await app.inject({ method: 'GET', url: '/no-such-page' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(JSON.parse(unknown.body).error.code, 'not_found');
  const traversal = await app.inject({ method: 'GET', url: '/assets/..%2f..%2fpackage.json' });
  assert.equal(traversal.statusCode, 404);
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  // The API keeps its own policy (nothing may load or frame an API answer), never the studio's.
  assert.equal(health.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
  const openapi = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, unknown> };
  assert.ok(openapi.paths['/jobs']);
  assert.deepEqual(Object.keys(openapi.paths).filter((path) => path === '/' || path.startsWith('/assets')), []);
});
