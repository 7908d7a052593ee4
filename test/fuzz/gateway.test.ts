// Bad input, property-based (fast-check), against the gateway process through its HTTP port: random
// and malformed JSON, wrong types, huge strings, deep nesting, invalid UTF-8, lone surrogates, reserved
// ids, odd URLs, headers and content types on every route the OpenAPI document lists (so new routes are
// fuzzed without touching this file). Every request must be answered (a client timeout turns a hang
// into a failure) with a 4xx in the error shape, never a 500, and must not enqueue a job.
//
// Fixed seed; another one: FUZZ_SEED=123 npm run test:only -- test/fuzz/gateway.test.ts
// More or fewer runs per property (default 250): FUZZ_RUNS=2000. A failure prints its seed and path to replay it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { run, type Running } from '../support/processes.ts';
import { freePort } from '../support/ports.ts';
import { rawRequest, NoResponseError, type RawRequest, type RawResponse } from '../support/raw-http.ts';
import { brokenRequest, deeplyNested, invalidUtf8, loneSurrogate, notAJob, notJson, oddId, textFields, validRequests, withBytesInField } from './generators.ts';

const seed = Number(process.env.FUZZ_SEED ?? 20261202);
const numRuns = Number(process.env.FUZZ_RUNS ?? 250);
/** A request not answered within this long counts as a hang. */
const clientTimeoutMs = 15_000;
const maxArticleChars = 100_000;
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

let t: TestEnvironment;
let gateway: Running;
let port: number;
let routes: Array<{ method: string; path: string }>;

before(async () => {
  console.log(`fuzz seed ${seed}, ${numRuns} runs per property (FUZZ_SEED / FUZZ_RUNS to change)`);
  t = await testEnvironment({ roles: [], vars: { LOG_LEVEL: 'warn', MAX_ARTICLE_CHARS: String(maxArticleChars) } });
  port = await freePort();
  gateway = run('apps/gateway/src/main.ts', [], { ...t.vars, PORT: String(port) });
  await waitFor(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0), (s) => s === 200, 'the gateway');
  const doc = (await (await fetch(`http://127.0.0.1:${port}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  routes = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path })));
});

after(async () => {
  const code = await gateway.stop();
  await t.close();
  assert.equal(code, 0, 'the gateway stopped cleanly after all of it');
});

/** Ids of the jobs under this test's queue prefix. */
async function jobIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await t.redis.scan(cursor, 'MATCH', `${t.env.QUEUE_PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) for (const id of key.match(uuidPattern) ?? []) ids.add(id);
  } while (cursor !== '0');
  return ids;
}

function parsed(response: RawResponse): any {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Sends one request; fails on a hang, and on any job that appeared in Redis meanwhile. */
async function send(request: RawRequest): Promise<RawResponse> {
  const before = await jobIds();
  let response: RawResponse;
  try {
    response = await rawRequest(port, request, clientTimeoutMs);
  } catch (error) {
    if (error instanceof NoResponseError) assert.fail(`${request.method} ${String(request.target).slice(0, 200)}: ${error.message}`);
    throw error;
  }
  const appeared = [...(await jobIds())].filter((id) => !before.has(id));
  assert.deepEqual(appeared, [], `${request.method} ${String(request.target).slice(0, 200)} answered ${response.status} and enqueued a job`);
  return response;
}

/** `{ error: { code, message } }` as JSON. */
function assertErrorShape(response: RawResponse, what: string): void {
  const body = parsed(response);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, `${what}: ${response.status} as JSON`);
  assert.ok(body && typeof body.error === 'object' && typeof body.error.code === 'string' && typeof body.error.message === 'string', `${what}: ${response.status} in the error shape, got ${response.body.toString('utf8').slice(0, 300)}`);
}

/** A 4xx in the error shape. */
function assertRefused(response: RawResponse, what: string): void {
  assert.ok(response.status >= 400 && response.status < 500, `${what}: a 4xx, got ${response.status} ${response.body.toString('utf8').slice(0, 300)}`);
  assertErrorShape(response, what);
}

/**
 * Whatever the route made of the request: never a 5xx (but /readyz, whose 503 is its answer while no
 * worker is up here), and any error in the error shape.
 */
function assertNoServerError(response: RawResponse, what: string, route: string): void {
  if (route === '/readyz' && response.status === 503 && parsed(response)?.ready === false) return;
  assert.ok(response.status < 500, `${what}: no 5xx, got ${response.status} ${response.body.toString('utf8').slice(0, 300)}`);
  if (response.status >= 400) assertErrorShape(response, what);
}

const json = (body: string | Buffer): RawRequest => ({ method: 'POST', target: '/jobs', headers: [['content-type', 'application/json']], body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') });
const check = <T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, runs = numRuns) => fc.assert(fc.asyncProperty(arbitrary, predicate), { seed, numRuns: runs });

/** The route's path with `{param}`s filled in. */
const fill = (path: string, id: string) => path.replace(/\{[^}]+\}/g, id);

test('control: a valid job is accepted and shows up in Redis (so the checks below can see an enqueued job)', async () => {
  const response = await rawRequest(port, json(JSON.stringify(validRequests[0])), clientTimeoutMs);
  assert.equal(response.status, 202, response.body.toString());
  assert.ok((await jobIds()).has(parsed(response).id));
  assert.ok(routes.some((r) => r.method === 'POST' && r.path === '/jobs') && routes.some((r) => r.path === '/jobs/{id}'), `routes from /docs/json: ${JSON.stringify(routes)}`);
});

test('POST /jobs: JSON that is no job is refused with 400', async () => {
  await check(notAJob, async (value) => assertRefused(await send(json(JSON.stringify(value))), `body ${JSON.stringify(value).slice(0, 100)}`));
});

test('POST /jobs: a valid request with one thing wrong (wrong type, unknown key, missing field, refused value, text too long, min over max) is refused naming the field', async () => {
  await check(brokenRequest(maxArticleChars), async (mutation) => {
    const response = await send(json(JSON.stringify(mutation.body)));
    const what = `${mutation.kind} at ${mutation.path.join('.')}`;
    assertRefused(response, what);
    if (mutation.kind === 'text too long') assert.equal(response.status, 413, what);
    if (mutation.kind === 'wrong type' || mutation.kind === 'refused value' || mutation.kind === 'missing field') {
      const details: Array<{ path: string }> = parsed(response).error.details ?? [];
      assert.ok(details.some((d) => d.path.split('.')[0] === String(mutation.path[0])), `${what}: the error names the field (${JSON.stringify(details)})`);
    }
  });
});

test('POST /jobs: text that is not JSON, and JSON nested 1,000 to 200,000 levels deep, is refused with 400', async () => {
  await check(fc.oneof(notJson, deeplyNested), async (text) => {
    const response = await send(json(text));
    assertRefused(response, `body ${JSON.stringify(text.slice(0, 80))} (${text.length} chars)`);
  });
});

test('POST /jobs: bytes that are not UTF-8 inside a text field are refused with 400', async () => {
  await check(fc.record({ field: fc.constantFrom(...textFields), bytes: invalidUtf8 }), async ({ field, bytes }) => {
    const response = await send(json(withBytesInField(field, bytes)));
    assertRefused(response, `bytes ${Buffer.from(bytes).toString('hex')} in ${field.path.join('.')}`);
  });
});

test('POST /jobs: a lone UTF-16 surrogate (\\ud800 escape) in a text field is refused with 400', async () => {
  await check(loneSurrogate, async ({ field, body }) => {
    const response = await send(json(body));
    assertRefused(response, `lone surrogate in ${field.join('.')}: ${body.slice(0, 120)}`);
  });
});

test('every route with an id: reserved, malformed, overlong and unknown ids are a 4xx', async () => {
  const withId = routes.filter((r) => r.path.includes('{'));
  assert.ok(withId.length > 0);
  await check(fc.record({ route: fc.constantFrom(...withId), id: oddId }), async ({ route, id }) => {
    const target = fill(route.path, id);
    const response = await send({ method: route.method, target, ...(route.method === 'POST' ? { headers: [['content-type', 'application/json']], body: Buffer.from('{}') } : {}) });
    assertRefused(response, `${route.method} ${target.slice(0, 120)}`);
  }, numRuns * 2);
});

/** URLs a client should not send: each is refused whatever the route. */
const oddTarget = (path: string) =>
  fc.oneof(
    fc.constantFrom(`${path}%`, `${path}/%`, `${path}%zz`, `${path}/%ff%fe`, `/%${path}`),
    fc.integer({ min: 10_000, max: 100_000 }).map((n) => `${path}/${'x'.repeat(n)}`),
    invalidUtf8.map((bytes) => Buffer.concat([Buffer.from(`${path}/`), bytes])),
    fc.constantFrom('\u0000', '\u0007', ' x', '\t').map((c) => Buffer.from(`${path}/a${c}b`, 'latin1')),
  );
/** URLs a route may well answer (a query it ignores), but never with a 5xx. */
const variedTarget = (path: string) =>
  fc.oneof(
    fc.webQueryParameters().map((q) => `${path}?${q}`),
    fc.constantFrom(`/${path}`, `${path}/`, `${path}/..`, `${path}?%`, `${path}?ids=%zz`, `${path}?${'q=1&'.repeat(2000)}`, `${path}/../..${path}`, `${path}?ids=`, `${path}?ids=,,,`, `${path}?ids=${'a,'.repeat(150)}`, `${path}#frag`, `${path}?a=1&a=2`),
  );

test('every route: odd URLs (bad percent-encoding, raw bytes, control characters, 100,000-character paths) are a 4xx; other odd URLs never a 5xx', async () => {
  await check(fc.record({ route: fc.constantFrom(...routes), id: fc.uuid(), odd: fc.boolean() }).chain(({ route, id, odd }) => (odd ? oddTarget(fill(route.path, id)) : variedTarget(fill(route.path, id))).map((target) => ({ route, target, odd }))), async ({ route, target, odd }) => {
    const response = await send({ method: route.method, target });
    const what = `${route.method} ${String(target).slice(0, 120)}`;
    if (odd) assertRefused(response, what);
    else assertNoServerError(response, what, route.path);
  }, numRuns * 2);
});

const contentTypes = ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16', 'application/jsonx', 'json', '', ';;;', 'application/json\u0000'];

test('every route: odd headers, content types and bodies are never a 5xx; huge headers a 431, a non-JSON body to POST /jobs a 4xx', async () => {
  // Sizes, not the headers themselves, so a failure prints a short counterexample.
  const header = fc.oneof(
    fc.integer({ min: 20_000, max: 200_000 }).map((size) => ({ kind: 'huge' as const, size })),
    fc.integer({ min: 100, max: 400 }).map((size) => ({ kind: 'many' as const, size })),
    fc.constantFrom<[string, string]>(
      ['accept', 'text/html'],
      ['accept-encoding', 'br, gzip, zstd, nonsense'],
      ['idempotency-key', 'x'.repeat(5000)],
      ['origin', 'https://evil.example'],
      ['x-forwarded-for', 'not an ip, 999.1.1.1'],
      ['transfer-encoding', 'chunked, identity'],
    ).map((pair) => ({ kind: 'odd' as const, pair })),
  );
  const headersOf = (h: { kind: 'huge'; size: number } | { kind: 'many'; size: number } | { kind: 'odd'; pair: [string, string] }): Array<[string, string]> =>
    h.kind === 'huge' ? [['x-filler', 'y'.repeat(h.size)]] : h.kind === 'many' ? Array.from({ length: h.size }, (_, i) => [`x-h${i}`, 'v'] as [string, string]) : [h.pair];
  const body = fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)), fc.constantFrom(...validRequests).map((r) => Buffer.from(JSON.stringify(r))));
  await check(fc.record({ route: fc.constantFrom(...routes), id: fc.uuid(), contentType: fc.constantFrom(...contentTypes), header, body }), async ({ route, id, contentType, header, body }) => {
    const target = fill(route.path, id);
    const headers: Array<[string, string]> = [...(contentType ? [['content-type', contentType] as [string, string]] : []), ...headersOf(header)];
    if (header.kind === 'odd' && header.pair[0] === 'transfer-encoding') headers.push(['content-length', String(body.length)]);
    const response = await send({ method: route.method, target, headers, body });
    const what = `${route.method} ${target} content-type ${JSON.stringify(contentType)}, ${header.kind} headers, ${body.length}-byte body`;
    assertNoServerError(response, what, route.path);
    // Headers over the size limit: 431 (unless another header is invalid too, which may be named first).
    if (header.kind === 'huge' && !/[\u0000-\u001f]/.test(contentType)) assert.equal(response.status, 431, what);
    if (route.method === 'POST' && route.path === '/jobs' && header.kind !== 'huge') assertRefused(response, what);
  });
});

test('every route: methods it does not have are a 4xx in the error shape', async () => {
  const paths = [...new Set(routes.map((r) => r.path))];
  await check(fc.record({ path: fc.constantFrom(...paths), id: fc.uuid(), method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'BREW') }).filter(({ path, method }) => !routes.some((r) => r.path === path && r.method === method) && !(method === 'OPTIONS')), async ({ path, id, method }) => {
    const response = await send({ method, target: fill(path, id), headers: [['content-type', 'application/json']], body: Buffer.from('{}') });
    assertRefused(response, `${method} ${path}`);
  });
});

test('afterwards the gateway is still up and healthy', async () => {
  const response = await rawRequest(port, { method: 'GET', target: '/healthz' }, clientTimeoutMs);
  assert.equal(response.status, 200);
  assert.equal(gateway.child.exitCode, null, 'the gateway process never exited');
});
