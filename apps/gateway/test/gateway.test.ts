import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let app: Gateway;
let queues: JobQueues;
let storage: ObjectStorage;

before(async () => {
  t = await testEnvironment({ roles: [], vars: { MAX_ARTICLE_CHARS: '200' } });
  queues = createJobQueues(t.env, createLogger('test', 'silent'));
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  // A build that runs only classify jobs, so the 501 path can be seen.
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }), jobTypes: ['classify'] });
  await app.ready();
});

after(async () => {
  await app.close();
  await queues.close();
  storage.close();
  await t.close();
});

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/jobs', payload: payload as object });
const waitingCount = async () => (await queues.depths()).filter((d) => d.state === 'waiting').reduce((n, d) => n + d.count, 0);

test('POST /jobs accepts a job, enqueues it and GET /jobs/:id reads it back queued', async () => {
  const res = await post({ type: 'classify', input: { text: '  I love   this! ' } });
  assert.equal(res.statusCode, 202);
  const body = res.json();
  assert.equal(body.status, 'queued');
  assert.equal(body.type, 'classify');
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  assert.equal(body.links.self, `/jobs/${body.id}`);
  assert.equal(res.headers.location, `/jobs/${body.id}`);

  const view = (await app.inject({ method: 'GET', url: `/jobs/${body.id}` })).json();
  assert.equal(view.status, 'queued');
  assert.equal(view.type, 'classify');
  assert.deepEqual(view.progress, { percent: 0, stage: null });
  assert.deepEqual(view.attempts, { made: 0, max: 3 });
  assert.equal(view.result, null);
  assert.equal(view.error, null);
  // Defaults were applied by the contract and travel with the job.
  assert.deepEqual(await queues.request(body.id), { type: 'classify', input: { text: 'I love   this!' }, params: { task: 'sentiment' } });
});

test('a validation failure is a 400 naming the field, and nothing is enqueued', async () => {
  const before = await waitingCount();
  const cases: Array<[unknown, string]> = [
    [{ type: 'classify', input: { text: '' } }, 'input.text'],
    [{ type: 'classify', input: { url: 'ftp://example.com/x' } }, 'input.url'],
    [{ type: 'nope', input: { text: 'x' } }, 'type'],
    [{ type: 'classify', input: { text: 'x' }, params: { task: 'mood' } }, 'params.task'],
    [{ type: 'curate', input: { text: 'x' }, params: { summaryMaxTokens: 1 } }, 'params.summaryMaxTokens'],
    [{ type: 'headline', input: { text: 'x' }, params: { minTokens: 30, maxTokens: 10 } }, 'params.minTokens'],
    [{ jobs: [{ type: 'classify', input: { text: 'fine' } }, { type: 'classify', input: { url: 'not a url' } }] }, 'jobs.1.input.url'],
    [{ jobs: [] }, 'jobs'],
  ];
  for (const [payload, path] of cases) {
    const res = await post(payload);
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    const { error } = res.json();
    assert.equal(error.code, 'validation_failed');
    assert.ok(error.details.some((d: { path: string }) => d.path === path), `${JSON.stringify(error.details)} names ${path}`);
  }
  assert.equal(await waitingCount(), before);
});

test('bodies are JSON: malformed JSON is 400 invalid_json, text/plain is 415, an empty body names the root', async () => {
  const malformed = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"type": ' });
  assert.equal(malformed.statusCode, 400);
  assert.equal(malformed.json().error.code, 'invalid_json');
  const plain = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'text/plain' }, payload: 'classify this please' });
  assert.equal(plain.statusCode, 415);
  assert.equal(plain.json().error.code, 'unsupported_media_type');
  const empty = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '' });
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json().error.details[0].path, '(root)');
});

test('bodies are text: bytes that are not UTF-8 and lone surrogates are refused with 400, nothing enqueued', async () => {
  const before = await waitingCount();
  const notUtf8 = Buffer.concat([Buffer.from('{"type":"classify","input":{"text":"caf'), Buffer.of(0xe9), Buffer.from('"}}')]);
  const bytes = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: notUtf8 });
  assert.equal(bytes.statusCode, 400);
  assert.equal(bytes.json().error.code, 'invalid_json');
  const surrogate = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"jobs":[{"type":"classify","input":{"text":"half \\ud83d of an emoji"}}]}' });
  assert.equal(surrogate.statusCode, 400);
  assert.equal(surrogate.json().error.details[0].path, 'jobs.0.input.text');
  // A whole pair is text.
  const pair = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"type":"classify","input":{"text":"a whole \\ud83d\\ude00"}}' });
  assert.equal(pair.statusCode, 202);
  assert.equal(await waitingCount(), before + 1);
});

test('an article over the limit is refused with 413 and the field named', async () => {
  const res = await post({ jobs: [{ type: 'classify', input: { text: 'short' } }, { type: 'classify', input: { text: 'x'.repeat(201) } }] });
  assert.equal(res.statusCode, 413);
  const { error } = res.json();
  assert.equal(error.code, 'text_too_long');
  assert.equal(error.details[0].path, 'jobs.1.input.text');
});

test('job types whose models are not in this version answer 501', async () => {
  const res = await post({ type: 'text-to-image', input: { prompt: 'a lighthouse' } });
  assert.equal(res.statusCode, 501);
  assert.equal(res.json().error.code, 'not_implemented');
  assert.equal(res.json().error.details[0].path, 'type');
});

test('a batch enqueues every job; GET /jobs?ids reports unknown ids instead of dropping them', async () => {
  const res = await post({ jobs: [{ type: 'classify', input: { text: 'one' } }, { type: 'classify', input: { text: 'two' }, params: { task: 'genre' } }] });
  assert.equal(res.statusCode, 202);
  const { jobs } = res.json();
  assert.equal(jobs.length, 2);
  const lookup = (await app.inject({ method: 'GET', url: `/jobs?ids=${jobs[0].id},missing-id,${jobs[1].id},meta` })).json();
  assert.deepEqual(lookup.jobs.map((j: { id: string }) => j.id), [jobs[0].id, 'missing-id', jobs[1].id, 'meta']);
  assert.equal(lookup.jobs[1].error.code, 'job_not_found');
  assert.equal(lookup.jobs[2].status, 'queued');
  assert.equal(lookup.jobs[3].error.code, 'job_not_found');
  const noIds = await app.inject({ method: 'GET', url: '/jobs?ids=' });
  assert.equal(noIds.statusCode, 400);
  assert.equal(noIds.json().error.details[0].path, 'querystring.ids');
});

test('unknown job and unknown route are 404s with the error body', async () => {
  const job = await app.inject({ method: 'GET', url: '/jobs/1b4e28ba-2fa1-41d2-883f-0e1e5e3a6c2d' });
  assert.equal(job.statusCode, 404);
  assert.equal(job.json().error.code, 'job_not_found');
  const route = await app.inject({ method: 'GET', url: '/nowhere' });
  assert.equal(route.statusCode, 404);
  assert.equal(route.json().error.code, 'not_found');
});

test("BullMQ's own key names are not job ids: 404, never a 500 from Redis", async () => {
  await post({ type: 'classify', input: { text: 'make the queue keys exist' } });
  for (const id of ['meta', 'id', 'events', 'stalled-check', 'completed', 'failed', 'wait', 'active', 'does-not-exist']) {
    for (const [method, url] of [['GET', `/jobs/${id}`], ['POST', `/jobs/${id}/cancel`], ['GET', `/jobs/${id}/events`]] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'job_not_found');
    }
  }
});

test('malformed URLs answer in the error body too', async () => {
  const badEncoding = await app.inject({ method: 'GET', url: '/jobs/%' });
  assert.equal(badEncoding.statusCode, 400);
  assert.equal(badEncoding.json().error.code, 'validation_failed');
  const longId = await app.inject({ method: 'GET', url: `/jobs/${'a'.repeat(300)}` });
  assert.equal(longId.statusCode, 414);
  assert.equal(longId.json().error.code, 'url_too_long');
});

test('canceling a queued job leaves the request for whichever worker takes it; an empty JSON body is fine', async () => {
  const { id } = (await post({ type: 'classify', input: { text: 'cancel me' } })).json();
  const res = await app.inject({ method: 'POST', url: `/jobs/${id}/cancel`, headers: { 'content-type': 'application/json' }, payload: '' });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(await t.redis.get(`${t.env.QUEUE_PREFIX}:cancel:${id}`), '1');
});

test('readiness says why it is not ready: no worker holds the models', async () => {
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 503);
  const body = res.json();
  assert.equal(body.checks.redis, 'ok');
  assert.equal(body.checks.storage, 'ok');
  assert.match(body.checks.workers, /no ready worker for classify/);
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

test('the OpenAPI document shows each job type with its own result shape, under readable names', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  assert.equal(doc.openapi, '3.1.0');
  const schemas = doc.components.schemas as Record<string, { oneOf?: Array<{ $ref: string }>; properties?: Record<string, unknown>; title?: string }>;
  assert.ok(doc.paths['/jobs'].post);
  assert.equal(doc.paths['/jobs/{id}'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/Job');
  assert.deepEqual(schemas.Job!.oneOf!.map((r) => r.$ref.split('/').at(-1)).sort(), ['ClassifyJob', 'CurateJob', 'HeadlineJob', 'SummarizeJob', 'TextToImageJob']);
  assert.match(JSON.stringify(schemas.CurateJob!.properties!.result), /CurateResult/);
  assert.ok(schemas.CurateResult && schemas.TextToImageResult && schemas.ClassifyResult && schemas.Article && schemas.ArticleText && schemas.JobRequest);
  const names = Object.keys(schemas);
  assert.deepEqual(names.filter((n) => /InputInput$|^TextInput$/.test(n)), [], 'no doubled Input suffixes');
  assert.ok(names.every((n) => schemas[n]!.title), 'every schema is titled, so viewers name union members');
  const ui = await app.inject({ method: 'GET', url: '/docs' });
  assert.ok([200, 302].includes(ui.statusCode));
});

test('/metrics exposes request durations and sampled queue depth', async () => {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /curator_http_request_duration_seconds_count\{[^}]*route="\/jobs"[^}]*\} \d+/);
  assert.match(text, /curator_queue_depth\{queue="text",state="waiting"[^}]*\} [1-9]/);
  assert.match(text, /curator_jobs_submitted_total\{type="classify"[^}]*\} [1-9]/);
});
