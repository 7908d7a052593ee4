// A job's life over HTTP, with real API keys: whose jobs a key sees, Idempotency-Key, Cancel-After and
// deadlines, Prefer: wait, retry, rerun, feedback, listing, cancel. The jobs are run by the real job
// runtime with handlers the test steers, so each job ends when the test says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CuratorError, jobRequestSchema } from '@curator/contracts';
import { KeyStore } from '@curator/access';
import { FeedbackLog, startJobRuntime, queueSettingsFromEnv, type JobQueues, type JobRuntime, type StageHandlers } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics, renderMetrics, type GatewayMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let app: Gateway;
let url: string;
let queues: JobQueues;
let storage: ObjectStorage;
let metrics: GatewayMetrics;
let textWorker: JobRuntime;
const logger = createLogger('test', 'silent');
const secrets: Record<'alice' | 'bob' | 'admin' | 'lister', string> = { alice: '', bob: '', admin: '', lister: '' };

/** Classify jobs by their text: `held …` waits for `release(text)` (or its cancel), `fail …` is refused on its first run, anything else finishes at once. */
const held = new Map<string, () => void>();
const runs = new Map<string, number>();
const release = (text: string) => waitFor(async () => held.get(text), (open) => open !== undefined, `${text} to run`).then((open) => open!());
const classification = { task: 'sentiment' as const, label: 'positive', scores: { positive: 1 }, model: 'steered', models: 'test' as const };
const handlers: StageHandlers = {
  classify: {
    stages: () => ['extract', 'sentiment'],
    run: async (request, job) => {
      const text = 'text' in request.input ? request.input.text : '';
      runs.set(text, (runs.get(text) ?? 0) + 1);
      await job.stage('extract', {}, async () => ({ value: text }));
      return job.stage('sentiment', {}, async () => {
        if (text.startsWith('fail') && runs.get(text) === 1) throw new CuratorError('bad_input', 'refused on its first run');
        if (text.startsWith('held')) {
          await new Promise<void>((resolve, reject) => {
            held.set(text, resolve);
            job.signal.addEventListener('abort', () => reject(job.signal.reason), { once: true });
          });
        }
        return { value: classification };
      });
    },
  },
};
const imageRuntime = (run: (prompt: string) => void) =>
  startJobRuntime({
    settings: queueSettingsFromEnv(t.env),
    pools: ['image'],
    concurrency: 2,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 500,
    describe: () => ({ jobTypes: ['text-to-image'], device: 'cpu', models: [] }),
    logger,
    handlers: {
      'text-to-image': {
        stages: () => ['image', 'card'],
        run: async (request) => {
          run(request.input.prompt);
          throw new CuratorError('bad_input', 'this test draws nothing');
        },
      },
    },
  });

before(async () => {
  t = await testEnvironment({ roles: [], vars: { PREFER_WAIT_MAX_SECONDS: '30' } });
  const keys = new KeyStore(t.redis, t.env.QUEUE_PREFIX);
  for (const name of ['alice', 'bob', 'lister'] as const) secrets[name] = (await keys.create({ name, scopes: ['submit', 'read'] })).secret;
  secrets.admin = (await keys.create({ name: 'admin', scopes: ['admin'] })).secret;
  queues = createJobQueues(t.env, logger);
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  metrics = createMetrics({ process: 'gateway' });
  app = await buildGateway({ env: t.env, queues, storage, metrics });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  textWorker = await startJobRuntime({
    settings: queueSettingsFromEnv(t.env),
    pools: ['text'],
    concurrency: 4,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 500,
    describe: () => ({ jobTypes: ['classify'], device: 'cpu', models: [] }),
    logger,
    handlers,
  });
});

after(async () => {
  await textWorker.close();
  await app.close();
  await queues.close();
  storage.close();
  await t.close();
});

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(who: keyof typeof secrets, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secrets[who]}`, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

const submit = async (who: keyof typeof secrets, text: string, headers: Record<string, string> = {}) => {
  const answer = await call(who, 'POST', '/jobs', { body: { type: 'classify', input: { text } }, headers });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return String(answer.body.id);
};
const final = (who: keyof typeof secrets, id: string) =>
  waitFor(() => call(who, 'GET', `/jobs/${id}`), (a) => ['succeeded', 'failed', 'canceled', 'expired'].includes(a.body?.status), `job ${id} to end`).then((a) => a.body);
const notFound = (answer: Answer, what: string) => {
  assert.equal(answer.status, 404, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error.code, 'job_not_found', what);
};

test("one key cannot see or touch another key's job: every route answers 404; an admin sees and acts on every job", async () => {
  const done = await submit('alice', 'alice finished');
  await final('alice', done);
  const running = await submit('alice', 'held alice');
  await waitFor(() => call('alice', 'GET', `/jobs/${running}`), (a) => a.body.status === 'running', 'the held job to run');

  notFound(await call('bob', 'GET', `/jobs/${done}`), 'get');
  const lookup = await call('bob', 'GET', `/jobs?ids=${done},${running}`);
  assert.deepEqual(lookup.body.jobs.map((j: any) => j.error?.code), ['job_not_found', 'job_not_found'], 'lookup');
  const bobsList = await call('bob', 'GET', '/jobs?limit=100');
  assert.ok(!bobsList.body.jobs.some((j: any) => j.id === done || j.id === running), 'list');
  notFound(await call('bob', 'GET', `/jobs/${done}/events`), 'events');
  notFound(await call('bob', 'POST', `/jobs/${running}/cancel`), 'cancel');
  notFound(await call('bob', 'POST', `/jobs/${done}/rerun`, { body: {} }), 'rerun');
  notFound(await call('bob', 'POST', `/jobs/${done}/retry`), 'retry');
  notFound(await call('bob', 'POST', `/jobs/${done}/feedback`, { body: { rating: 1 } }), 'feedback');
  assert.equal((await call('alice', 'GET', `/jobs/${running}`)).body.status, 'running', "bob's cancel did nothing");

  assert.equal((await call('alice', 'GET', `/jobs/${done}`)).status, 200);
  assert.ok((await call('alice', 'GET', '/jobs?limit=100')).body.jobs.some((j: any) => j.id === done));
  const bobs = await submit('bob', 'bob finished');
  const everyone = (await call('admin', 'GET', '/jobs?limit=100')).body.jobs.map((j: any) => j.id);
  assert.ok([done, running, bobs].every((id) => everyone.includes(id)), "the admin lists every key's jobs");
  assert.equal((await call('admin', 'GET', `/jobs/${done}`)).status, 200);
  assert.equal((await call('admin', 'POST', `/jobs/${running}/cancel`)).status, 202);
  assert.equal((await final('alice', running)).status, 'canceled');
});

test('Idempotency-Key: the same key and body give back the same job; another body under it is 409; keys are per API key', async () => {
  const key = randomUUID();
  const body = { type: 'classify', input: { text: 'pay once' } };
  const first = await call('alice', 'POST', '/jobs', { body, headers: { 'idempotency-key': key } });
  assert.equal(first.status, 202);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  // The same request written differently (key order, whitespace) is the same request.
  const again = await call('alice', 'POST', '/jobs', { body: { input: { text: 'pay once' }, type: 'classify', params: { task: 'sentiment' } }, headers: { 'idempotency-key': key } });
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const other = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'pay twice' } }, headers: { 'idempotency-key': key } });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'idempotency_conflict');
  const bobs = await call('bob', 'POST', '/jobs', { body, headers: { 'idempotency-key': key } });
  assert.equal(bobs.status, 202);
  assert.notEqual(bobs.body.id, first.body.id);
  const mine = (await call('alice', 'GET', '/jobs?limit=100')).body.jobs.filter((j: any) => j.id === first.body.id);
  assert.equal(mine.length, 1, 'one job in the listing');
  for (const bad of ['', 'x'.repeat(256), 'two words']) {
    const refused = await call('alice', 'POST', '/jobs', { body, headers: { 'idempotency-key': bad } });
    assert.equal(refused.status, 400, JSON.stringify(bad));
    assert.equal(refused.body.error.details[0].path, 'headers.idempotency-key');
  }
});

test('Cancel-After sets the deadline (the earlier of it and the body\'s wins); a job no worker started by then ends expired', async () => {
  for (const bad of ['soon', '0', '-5', '5 minutes', '400d']) {
    const refused = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'x' } }, headers: { 'cancel-after': bad } });
    assert.equal(refused.status, 400, bad);
    assert.equal(refused.body.error.code, 'validation_failed');
    assert.equal(refused.body.error.details[0].path, 'headers.cancel-after');
  }
  const sent = Date.now();
  const fiveMinutes = await submit('alice', 'deadline in five minutes', { 'cancel-after': '5m' });
  const view = (await call('alice', 'GET', `/jobs/${fiveMinutes}`)).body;
  const deadline = Date.parse(view.deadline);
  assert.ok(deadline >= sent + 300_000 && deadline <= Date.now() + 300_000, view.deadline);
  const earlier = new Date(Date.now() + 60_000).toISOString();
  const both = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'both' }, deadline: earlier }, headers: { 'cancel-after': '1h' } });
  assert.equal((await call('alice', 'GET', `/jobs/${both.body.id}`)).body.deadline, earlier);

  // A text-to-image job: no image worker runs yet, so it waits past its deadline.
  const late = await call('alice', 'POST', '/jobs', { body: { type: 'text-to-image', input: { prompt: 'a harbour' } }, headers: { 'cancel-after': '0.2' } });
  assert.equal(late.status, 202);
  const due = Date.parse((await call('alice', 'GET', `/jobs/${late.body.id}`)).body.deadline);
  await waitFor(async () => Date.now(), (now) => now > due, 'the deadline to pass');
  let ran = 0;
  const images = await imageRuntime((prompt) => prompt === 'a harbour' && ran++);
  try {
    const expired = await final('alice', late.body.id);
    assert.equal(expired.status, 'expired');
    assert.equal(expired.error.code, 'deadline_exceeded');
    assert.equal(expired.startedAt, null);
    assert.equal(ran, 0, 'the handler never ran');
    const stream = await fetch(`${url}/jobs/${late.body.id}/events`, { headers: { authorization: `Bearer ${secrets.alice}` } });
    assert.match(await stream.text(), /event: expired/);
  } finally {
    await images.close();
  }
});

test('Prefer: wait answers 200 with the finished job when it finishes in time, else the usual 202; both say Preference-Applied', async () => {
  const quick = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'wait for me' } }, headers: { prefer: 'wait=20' } });
  assert.equal(quick.status, 200, JSON.stringify(quick.body));
  assert.equal(quick.body.status, 'succeeded');
  assert.equal(quick.body.result.label, 'positive');
  assert.equal(quick.headers.get('preference-applied'), 'wait=20');
  assert.equal(quick.headers.get('location'), `/jobs/${quick.body.id}`);
  const bounded = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'wait long' } }, headers: { prefer: 'respond-async, wait=999' } });
  assert.equal(bounded.headers.get('preference-applied'), 'wait=30', 'bounded by PREFER_WAIT_MAX_SECONDS');
  const plain = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'wait default' } }, headers: { prefer: 'wait' } });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('preference-applied'), 'wait=30', 'wait without seconds: 60 s, bounded');

  const slow = await call('alice', 'POST', '/jobs', { body: { type: 'classify', input: { text: 'held past the wait' } }, headers: { prefer: 'wait=1' } });
  assert.equal(slow.status, 202);
  assert.equal(slow.body.status, 'queued');
  assert.equal(slow.headers.get('preference-applied'), 'wait=1');
  await release('held past the wait');
  assert.equal((await final('alice', slow.body.id)).status, 'succeeded');

  const batch = await call('alice', 'POST', '/jobs', { body: { jobs: [{ type: 'classify', input: { text: 'b1' } }] }, headers: { prefer: 'wait=5' } });
  assert.equal(batch.status, 202, 'batches are not waited for');
  assert.equal(batch.headers.get('preference-applied'), null);
});

test('retry runs a failed job again under its id and keeps the failed run in history; other jobs are 409 job_not_retryable', async () => {
  const id = await submit('alice', 'fail once then pass');
  const failed = await final('alice', id);
  assert.equal(failed.status, 'failed');
  const retried = await call('alice', 'POST', `/jobs/${id}/retry`);
  assert.equal(retried.status, 202);
  assert.equal(retried.body.id, id);
  assert.deepEqual(retried.body.history.map((h: any) => [h.attempt, h.status, h.error.code]), [[1, 'failed', 'bad_input']]);
  const done = await final('alice', id);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts.made, 1);
  assert.equal(done.history.length, 1);
  const again = await call('alice', 'POST', `/jobs/${id}/retry`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'job_not_retryable');
});

test('rerun: the original input under new params checked against its type; the 202 names the reused stages and the new job its origin', async () => {
  const original = await submit('alice', 'rerun me');
  await final('alice', original);
  const wrongKey = await call('alice', 'POST', `/jobs/${original}/rerun`, { body: { params: { imagePrefix: 'Oil - ' } } });
  assert.equal(wrongKey.status, 400);
  assert.equal(wrongKey.body.error.details[0].path, 'params.imagePrefix', JSON.stringify(wrongKey.body));
  assert.match(wrongKey.body.error.details[0].message, /not a parameter of classify jobs/);
  const wrongValue = await call('alice', 'POST', `/jobs/${original}/rerun`, { body: { params: { task: 'mood' } } });
  assert.equal(wrongValue.status, 400);
  assert.equal(wrongValue.body.error.details[0].path, 'params.task');

  const rerun = await call('alice', 'POST', `/jobs/${original}/rerun`, { body: { params: { task: 'genre' } } });
  assert.equal(rerun.status, 202, JSON.stringify(rerun.body));
  assert.equal(rerun.body.rerunOf, original);
  assert.deepEqual(rerun.body.reusedStages, ['extract']);
  assert.equal(rerun.headers.get('location'), `/jobs/${rerun.body.id}`);
  const view = (await call('alice', 'GET', `/jobs/${rerun.body.id}`)).body;
  assert.equal(view.rerunOf, original);
  assert.deepEqual(await queues.request(rerun.body.id), jobRequestSchema.parse({ type: 'classify', input: { text: 'rerun me' }, params: { task: 'genre' } }));
  const same = await call('alice', 'POST', `/jobs/${original}/rerun`);
  assert.equal(same.status, 202, 'no body: the same job again');
  assert.deepEqual(same.body.reusedStages, ['extract', 'sentiment']);
});

test('feedback on a finished job is stored, counted in curator_feedback_total and exported; on a job under way it is 409', async () => {
  const running = await submit('alice', 'held for feedback');
  await waitFor(() => call('alice', 'GET', `/jobs/${running}`), (a) => a.body.status === 'running', 'the job to run');
  const early = await call('alice', 'POST', `/jobs/${running}/feedback`, { body: { rating: 3 } });
  assert.equal(early.status, 409);
  await release('held for feedback');
  await final('alice', running);

  const invalid = await call('alice', 'POST', `/jobs/${running}/feedback`, { body: { rating: 6 } });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.details[0].path, 'rating');
  const given = await call('alice', 'POST', `/jobs/${running}/feedback`, { body: { rating: 4, field: 'summary', comment: '  short and right ' } });
  assert.equal(given.status, 201, JSON.stringify(given.body));
  assert.deepEqual({ ...given.body, id: undefined, createdAt: undefined }, { id: undefined, createdAt: undefined, jobId: running, jobType: 'classify', rating: 4, comment: 'short and right', field: 'summary' });
  const overall = await call('alice', 'POST', `/jobs/${running}/feedback`, { body: { rating: 2 } });
  assert.equal(overall.body.field, 'overall');

  const log = new FeedbackLog(t.redis, t.env.QUEUE_PREFIX);
  assert.deepEqual((await log.forJob(running)).map((f) => [f.rating, f.field]), [[4, 'summary'], [2, 'overall']]);
  const exported = [];
  for await (const entry of log.export({ since: new Date(Date.now() - 60_000) })) exported.push(entry);
  assert.deepEqual(exported.map((f) => f.id), [given.body.id, overall.body.id]);
  const scraped = (await renderMetrics(metrics.registry)).body;
  assert.match(scraped, /curator_feedback_total\{type="classify",field="summary",rating="4"\} 1/);
  assert.match(scraped, /curator_feedback_total\{type="classify",field="overall",rating="2"\} 1/);
});

test("GET /jobs lists the caller's jobs newest first with a cursor, filtered by status, type and creation time", async () => {
  const queued: string[] = [];
  for (const prompt of ['p1', 'p2', 'p3']) {
    const answer = await call('lister', 'POST', '/jobs', { body: { type: 'text-to-image', input: { prompt } } });
    queued.push(answer.body.id);
  }
  const done = [await submit('lister', 'l1'), await submit('lister', 'l2')];
  await Promise.all(done.map((id) => final('lister', id)));
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Answer = await call('lister', 'GET', `/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.jobs.length <= 2);
    seen.push(...page.body.jobs.map((j: any) => j.id));
    cursor = page.body.nextCursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen, [...queued, ...done].reverse(), 'every job once, newest first');
  assert.equal(pages, 3);
  const succeeded = (await call('lister', 'GET', '/jobs?status=succeeded')).body.jobs.map((j: any) => j.id);
  assert.deepEqual(succeeded, [...done].reverse());
  const images = (await call('lister', 'GET', '/jobs?type=text-to-image&status=queued')).body.jobs.map((j: any) => j.id);
  assert.deepEqual(images, [...queued].reverse());
  const after = (await call('lister', 'GET', `/jobs/${queued[2]}`)).body.createdAt;
  const newer = (await call('lister', 'GET', `/jobs?createdAfter=${encodeURIComponent(after)}`)).body.jobs.map((j: any) => j.id);
  assert.deepEqual(newer, [...done].reverse());
  for (const [query, path] of [
    ['cursor=nonsense', 'querystring.cursor'],
    ['limit=1000', 'querystring.limit'],
    ['status=lost', 'querystring.status'],
    [`ids=${done[0]}&status=queued`, 'querystring.status'],
  ] as const) {
    const refused = await call('lister', 'GET', `/jobs?${query}`);
    assert.equal(refused.status, 400, query);
    assert.equal(refused.body.error.details[0].path, path, `${query}: ${JSON.stringify(refused.body)}`);
  }
});

test('cancel reaches a queued job (whichever worker takes it) and a running one (its worker stops it); a finished one is 409', async () => {
  const queued = await call('alice', 'POST', '/jobs', { body: { type: 'text-to-image', input: { prompt: 'never drawn' } } });
  const canceledQueued = await call('alice', 'POST', `/jobs/${queued.body.id}/cancel`);
  assert.equal(canceledQueued.status, 202);
  assert.equal(canceledQueued.body.status, 'queued');
  let ran = 0;
  const images = await imageRuntime((prompt) => prompt === 'never drawn' && ran++);
  try {
    const view = await final('alice', queued.body.id);
    assert.equal(view.status, 'canceled');
    assert.equal(ran, 0);
  } finally {
    await images.close();
  }

  const running = await submit('alice', 'held until canceled');
  await waitFor(() => call('alice', 'GET', `/jobs/${running}`), (a) => a.body.status === 'running' && a.body.progress.stage === 'sentiment', 'the job to run');
  assert.equal((await call('alice', 'POST', `/jobs/${running}/cancel`)).status, 202);
  const view = await final('alice', running);
  assert.equal(view.status, 'canceled');
  assert.equal(view.error.code, 'canceled');
  const again = await call('alice', 'POST', `/jobs/${running}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'job_not_cancelable');
});
