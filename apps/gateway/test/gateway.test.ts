import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createMetrics } from '@curator/telemetry';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { buildGateway, JobChangeNotifier, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let app: Gateway;
let queues: JobQueues;
let storage: ObjectStorage;
let notifier: JobChangeNotifier;

before(async () => {
  t = await testEnvironment({ vars: { MAX_ARTICLE_CHARS: '200' } });
  queues = new JobQueues({ connection: t.redis, prefix: t.env.QUEUE_PREFIX, attempts: 3, backoffMs: 10, ttlSeconds: 600 });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  notifier = new JobChangeNotifier(t.redis, t.env.QUEUE_PREFIX);
  // A build that runs only classify jobs, so the 501 path can be seen.
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }), notifier, jobTypes: ['classify'] });
  await app.ready();
});

after(async () => {
  await app.close();
  await notifier.close();
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
  const job = await queues.findJob(body.id);
  assert.deepEqual(job?.data.request, { type: 'classify', input: { text: 'I love   this!' }, params: { task: 'sentiment' } });
});

test('a validation failure is a 400 naming the field, and nothing is enqueued', async () => {
  const before = await waitingCount();
  const cases: Array<[unknown, string]> = [
    [{ type: 'classify', input: { text: '' } }, 'input.text'],
    [{ type: 'classify', input: { url: 'ftp://example.com/x' } }, 'input.url'],
    [{ type: 'nope', input: { text: 'x' } }, 'type'],
    [{ type: 'classify', input: { text: 'x' }, params: { task: 'mood' } }, 'params.task'],
    [{ type: 'curate', input: { text: 'x' }, params: { summaryMaxTokens: 1 } }, 'params.summaryMaxTokens'],
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

test('malformed JSON is a 400 invalid_json with the error body', async () => {
  const res = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"type": ' });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.code, 'invalid_json');
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
  const lookup = (await app.inject({ method: 'GET', url: `/jobs?ids=${jobs[0].id},missing-id,${jobs[1].id}` })).json();
  assert.deepEqual(lookup.jobs.map((j: { id: string }) => j.id), [jobs[0].id, 'missing-id', jobs[1].id]);
  assert.equal(lookup.jobs[1].error.code, 'job_not_found');
  assert.equal(lookup.jobs[2].status, 'queued');
  const noIds = await app.inject({ method: 'GET', url: '/jobs?ids=' });
  assert.equal(noIds.statusCode, 400);
  assert.equal(noIds.json().error.details[0].path, 'querystring.ids');
});

test('unknown job and unknown route are 404s with the error body', async () => {
  const job = await app.inject({ method: 'GET', url: '/jobs/does-not-exist' });
  assert.equal(job.statusCode, 404);
  assert.equal(job.json().error.code, 'job_not_found');
  const route = await app.inject({ method: 'GET', url: '/nowhere' });
  assert.equal(route.statusCode, 404);
  assert.equal(route.json().error.code, 'not_found');
});

test('canceling a queued job leaves the request for whichever worker takes it', async () => {
  const { id } = (await post({ type: 'classify', input: { text: 'cancel me' } })).json();
  const res = await app.inject({ method: 'POST', url: `/jobs/${id}/cancel` });
  assert.equal(res.statusCode, 202);
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

test('the OpenAPI document is derived from the contracts', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/jobs'].post);
  assert.ok(doc.paths['/jobs/{id}'].get);
  assert.ok(doc.components.schemas.JobRequest, 'JobRequest component');
  assert.ok(doc.components.schemas.Job, 'Job component');
  const ui = await app.inject({ method: 'GET', url: '/docs' });
  assert.ok([200, 302].includes(ui.statusCode));
});

test('/metrics exposes request durations and sampled queue depth', async () => {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /curator_http_request_duration_seconds_count\{[^}]*route="\/jobs"[^}]*\} \d+/);
  assert.match(text, /curator_queue_depth\{queue="text",state="waiting"[^}]*\} [1-9]/);
  assert.match(text, /curator_jobs_submitted_total\{type="classify"[^}]*\} [1-9]/);
});
