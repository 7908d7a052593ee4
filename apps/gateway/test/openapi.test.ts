// The OpenAPI document at /docs/json: valid OpenAPI 3.1 (checked by @readme/openapi-parser against
// the specification's own JSON Schema and its extra rules), complete (every route Fastify serves,
// every error as an ErrorBody, the headers, examples), and true: what it says about API keys, rate
// limits and headers is what a real gateway does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { validate, compileErrors } from '@readme/openapi-parser';
import { KeyStore } from '@curator/access';
import { loadEnv } from '@curator/config';
import { jobTypes, resultSchemas, schemaExamples } from '@curator/contracts';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

type Json = Record<string, any>;

let t: TestEnvironment;
let queues: JobQueues;
let storage: ObjectStorage;
let app: Gateway;
let doc: Json;

/** An anonymous job may ask for a webhook only where the deployment signs them (WEBHOOK_SECRET). */
const webhookSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

before(async () => {
  t = await testEnvironment({ roles: [], vars: { WEBHOOK_SECRET: webhookSecret } });
  queues = createJobQueues(t.env, createLogger('test', 'silent'));
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }) });
  await app.ready();
  const response = await app.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(response.statusCode, 200, response.body);
  doc = response.json();
});

after(async () => {
  await app?.close();
  await queues?.close();
  storage?.close();
  await t?.close();
});

const methods = ['get', 'put', 'post', 'delete', 'patch'];
function* operations(): Generator<[path: string, method: string, operation: Json]> {
  for (const [path, item] of Object.entries(doc.paths as Json)) for (const method of methods) if (item[method]) yield [path, method, item[method]];
}
const operation = (method: string, path: string): Json => doc.paths[path]?.[method] ?? assert.fail(`${method.toUpperCase()} ${path} is documented`);
const headerNames = (op: Json) => new Set(((op.parameters ?? []) as Json[]).filter((p) => p.in === 'header').map((p) => String(p.name).toLowerCase()));
const responseHeaderNames = (response: Json) => new Set(Object.keys(response?.headers ?? {}).map((name) => name.toLowerCase()));

/** Fastify's routes as `METHOD /path` (from its route tree: each node's text continues its parent's path). */
function servedRoutes(gateway: Gateway): Set<string> {
  const routes = new Set<string>();
  const stack: Array<{ depth: number; path: string }> = [];
  for (const line of gateway.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    while (stack.length > depth) stack.pop();
    const path = `${stack.at(-1)?.path ?? ''}${match[2]}`.replace(/\/{2,}/g, '/');
    stack.push({ depth, path });
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD' && method !== 'OPTIONS') routes.add(`${method} ${path}`);
  }
  return routes;
}

/** Served on purpose without an operation: the documentation itself, and the studio's static files. */
const notOperations = [/^GET \/docs(\/.*)?$/, /^GET \/$/, /^GET \/index\.html$/, /^GET \/favicon\.svg$/, /^GET \/assets\/[\w.-]+$/];

test('the document is valid OpenAPI 3.1 (@readme/openapi-parser: the specification schema and its extra rules)', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0], { resolve: { external: false } });
  assert.ok(result.valid, compileErrors(result));
  assert.deepEqual(result.warnings, []);
});

test('every route the gateway serves is an operation of the document, and nothing else is', () => {
  const served = [...servedRoutes(app)].filter((route) => !notOperations.some((pattern) => pattern.test(route)));
  assert.ok(served.includes('POST /jobs/:id/cancel'), `the route tree was read: ${served.join(', ')}`);
  const documented = [...operations()].map(([path, method]) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  assert.deepEqual(documented.sort(), served.sort());
});

test('every error response is an ErrorBody and says what it means', () => {
  for (const [path, method, op] of operations()) {
    for (const [status, response] of Object.entries(op.responses as Json)) {
      if (!/^[45]/.test(status)) continue;
      const where = `${method.toUpperCase()} ${path} ${status}`;
      assert.deepEqual(response.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorBody' }, where);
      assert.ok(response.description && response.description !== 'Default Response', `${where} is described`);
    }
  }
  assert.deepEqual(Object.keys(doc.components.schemas.ErrorBody.properties), ['error']);
});

test('headers where they apply: API key, Idempotency-Key, Prefer, Cancel-After, Last-Event-ID, RateLimit-*, Retry-After, Location, Preference-Applied', () => {
  assert.deepEqual(doc.components.securitySchemes.apiKey, { ...doc.components.securitySchemes.apiKey, type: 'http', scheme: 'bearer' });
  for (const [path, method, op] of operations()) {
    const where = `${method.toUpperCase()} ${path}`;
    const keyed = op.security === undefined || op.security.length > 0;
    if (keyed) for (const status of ['401', '403']) assert.ok(op.responses[status], `${where} documents ${status}`);
    for (const [status, response] of Object.entries(op.responses as Json)) {
      if (status === '429' || status === '503') assert.ok(responseHeaderNames(response).has('retry-after'), `${where} ${status}: Retry-After`);
      if (status === '429') for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) assert.ok(responseHeaderNames(response).has(name), `${where} 429: ${name}`);
    }
  }
  const submit = operation('post', '/jobs');
  for (const name of ['idempotency-key', 'prefer', 'cancel-after']) assert.ok(headerNames(submit).has(name), `POST /jobs takes ${name}`);
  assert.ok(responseHeaderNames(submit.responses['202']).has('location'));
  for (const name of ['location', 'preference-applied']) assert.ok(responseHeaderNames(submit.responses['200']).has(name), `POST /jobs 200: ${name}`);
  assert.ok(headerNames(operation('get', '/jobs/{id}/events')).has('last-event-id'));
  assert.ok(operation('get', '/jobs/{id}/events').responses['200'].content['text/event-stream']);
  assert.deepEqual(operation('get', '/healthz').security, []);
  for (const hook of ['job.started', 'job.progress', 'job.completed']) {
    const names = headerNames(doc.webhooks[hook].post);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) assert.ok(names.has(name), `${hook}: ${name}`);
  }
});

test("examples: on every request body, on each job type's result, and the request examples are accepted by the gateway", async () => {
  for (const [path, method, op] of operations()) {
    const content = op.requestBody?.content?.['application/json'];
    if (!content) continue;
    assert.ok(Object.keys(content.examples ?? {}).length > 0, `${method.toUpperCase()} ${path}: the request body has examples`);
  }
  const schemas = doc.components.schemas as Json;
  for (const type of jobTypes) {
    const name = schemaExamples.find((entry) => entry.schema === resultSchemas[type])!.name;
    assert.ok(schemas[name]?.examples?.length > 0, `the ${type} result (${name}) has examples`);
  }
  const submitExamples = Object.values(operation('post', '/jobs').requestBody.content['application/json'].examples as Json);
  assert.ok(submitExamples.length >= jobTypes.length + 1, 'one per job type at least, and a batch');
  for (const { value } of submitExamples) {
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: value });
    assert.equal(response.statusCode, 202, `${JSON.stringify(value)}: ${response.body}`);
  }
});

test('what the document says about keys is what the gateway does: keyed operations refuse a call without a key once keys exist', async () => {
  const keys = new KeyStore(queues.redis, t.env.QUEUE_PREFIX);
  const created = await keys.create({ name: 'openapi-test', scopes: ['submit', 'read'] });
  // The gateway reads "are there keys?" again at most a second later.
  await waitFor(() => app.inject({ method: 'GET', url: '/workers' }).then((r) => r.statusCode), (status) => status === 401, 'the gateway to ask for keys');
  for (const [path, method, op] of operations()) {
    const url = path.replace('{id}', randomUUID());
    const payload = method === 'post' ? op.requestBody?.content?.['application/json']?.examples : undefined;
    const body = payload ? (Object.values(payload)[0] as Json).value : undefined;
    const response = await app.inject({ method: method.toUpperCase() as 'GET', url, ...(body ? { payload: body } : {}) });
    const keyed = op.security === undefined || op.security.length > 0;
    if (keyed) assert.equal(response.statusCode, 401, `${method.toUpperCase()} ${path} without a key`);
    else assert.notEqual(response.statusCode, 401, `${method.toUpperCase()} ${path} is public`);
  }
  const withKey = await app.inject({ method: 'GET', url: `/jobs/${randomUUID()}`, headers: { authorization: `Bearer ${created.secret}` } });
  assert.equal(withKey.statusCode, 404);
  await keys.revoke(created.key.id);
  await waitFor(() => app.inject({ method: 'GET', url: '/workers' }).then((r) => r.statusCode), (status) => status === 200, 'the gateway to run open again');
});

test('what the document says about limits, the content policy and headers is what the gateway does', async () => {
  const strict = await buildGateway({
    env: loadEnv({ ...t.vars, RATE_LIMIT_PER_MINUTE: '1', CONTENT_POLICY_TERMS: 'forbidden-word' }),
    queues,
    storage,
    metrics: createMetrics({ process: 'gateway' }),
  });
  await strict.ready();
  try {
    const refused = await strict.inject({ method: 'POST', url: '/jobs', payload: { type: 'text-to-image', input: { prompt: 'a forbidden-word at dawn' } } });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal(refused.json().error.code, 'content_policy');
    assert.ok(operation('post', '/jobs').responses['422'], 'POST /jobs documents 422');
    for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) {
      assert.ok(refused.headers[name] !== undefined, `the gateway sends ${name}`);
      assert.ok(responseHeaderNames(operation('post', '/jobs').responses['422']).has(name), `and the document says so (${name})`);
    }
    // The one request of the window is spent: every metered operation is refused now, the others not.
    for (const [path, method, op] of operations()) {
      const response = await strict.inject({ method: method.toUpperCase() as 'GET', url: path.replace('{id}', randomUUID()) });
      const where = `${method.toUpperCase()} ${path}`;
      if (op.responses['429']) {
        assert.equal(response.statusCode, 429, where);
        assert.equal(response.json().error.code, 'rate_limited');
        for (const name of responseHeaderNames(op.responses['429'])) assert.ok(response.headers[name] !== undefined, `${where} 429 sends ${name}`);
      } else assert.notEqual(response.statusCode, 429, `${where} is not metered`);
    }
  } finally {
    await strict.close();
  }

  // The submit answer's documented headers, on a real answer (no worker runs here: the wait runs out).
  const waited = await app.inject({ method: 'POST', url: '/jobs', headers: { prefer: 'wait=1' }, payload: { type: 'classify', input: { text: 'I love this!' } } });
  assert.equal(waited.statusCode, 202, waited.body);
  for (const name of ['location', 'preference-applied']) assert.ok(waited.headers[name] !== undefined, `202 sends ${name}`);
  for (const name of Object.keys(waited.headers).filter((header) => ['location', 'preference-applied', 'idempotent-replayed'].includes(header))) {
    assert.ok(responseHeaderNames(operation('post', '/jobs').responses['202']).has(name), `POST /jobs 202 documents ${name}`);
  }
  const rerun = await app.inject({ method: 'POST', url: `/jobs/${waited.json().id}/rerun`, headers: { 'idempotency-key': randomUUID() }, payload: {} });
  assert.equal(rerun.statusCode, 202, rerun.body);
  assert.ok(rerun.headers.location !== undefined);
  assert.ok(responseHeaderNames(operation('post', '/jobs/{id}/rerun').responses['202']).has('location'));
  for (const name of ['idempotency-key', 'cancel-after']) assert.ok(headerNames(operation('post', '/jobs/{id}/rerun')).has(name), `POST /jobs/{id}/rerun takes ${name}`);
});
