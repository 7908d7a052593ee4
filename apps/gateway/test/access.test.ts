// API keys, scopes, open mode, rate limits per key, daily quotas, the content policy at submission
// and /workers job ids: a real gateway over HTTP on the test's Redis, keys made with the KeyStore
// `curator keys` uses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DailyJobQuota, KeyStore, type NewApiKey } from '@curator/access';
import { loadEnv } from '@curator/config';
import { startJobRuntime, queueSettingsFromEnv, type JobQueues, type JobRuntime } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway, type GatewayDependencies } from '../src/index.ts';

let t: TestEnvironment;
let storage: ObjectStorage;
const opened: Array<{ app: Gateway; queues: JobQueues }> = [];
const logger = createLogger('test', 'silent');

before(async () => {
  t = await testEnvironment({ roles: [] });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
});

after(async () => {
  for (const { app, queues } of opened) {
    await app.close();
    await queues.close();
  }
  storage.close();
  await t.close();
});

interface Running {
  url: string;
  queues: JobQueues;
  keys: KeyStore;
  prefix: string;
}

/** A gateway listening on loopback with a queue prefix of its own (so its keys are its own), and these settings. */
async function gateway(name: string, vars: Record<string, string> = {}, extra: Partial<GatewayDependencies> = {}): Promise<Running> {
  const prefix = `${t.env.QUEUE_PREFIX}:${name}`;
  const env = loadEnv({ ...t.vars, QUEUE_PREFIX: prefix, ...vars });
  const queues = createJobQueues(env, logger);
  await queues.ready();
  const app = await buildGateway({ env, queues, storage, metrics: createMetrics({ process: 'gateway' }), ...extra });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  opened.push({ app, queues });
  return { url, queues, keys: new KeyStore(t.redis, prefix), prefix };
}

async function call(url: string, options: { method?: string; key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await res.text();
  const json = text !== '' && (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, headers: res.headers, body: json ? (JSON.parse(text) as any) : text };
}

const classify = (text = 'A calm day at the harbour.') => ({ type: 'classify', input: { text } });
const waitingJobs = async (queues: JobQueues) => (await queues.depths()).filter((d) => d.state === 'waiting').reduce((n, d) => n + d.count, 0);

/** A key, and the gateway's first request with it (a verified key tells the gateway keys exist). */
async function keyFor(g: Running, input: NewApiKey): Promise<string> {
  const { secret } = await g.keys.create(input);
  return secret;
}

test('open mode (no keys): loopback clients are served as anonymous with every scope; others get 401 naming the fix', async () => {
  const g = await gateway('open', { TRUST_PROXY: '127.0.0.1' });
  const accepted = await call(`${g.url}/jobs`, { body: classify() });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  assert.equal((await call(`${g.url}/jobs/${accepted.body.id}`)).status, 200);
  assert.equal((await call(`${g.url}/jobs`, { body: classify(), headers: { 'x-forwarded-for': '127.0.0.9' } })).status, 202, 'a loopback client behind a trusted loopback proxy');

  // A client elsewhere, forwarded by the trusted proxy on this host.
  const remote = await call(`${g.url}/jobs`, { body: classify(), headers: { 'x-forwarded-for': '203.0.113.7' } });
  assert.equal(remote.status, 401);
  assert.equal(remote.body.error.code, 'unauthorized');
  assert.match(remote.body.error.message, /loopback clients only.*curator keys create/);
  assert.equal(remote.headers.get('www-authenticate'), 'Bearer');
  // Probes and docs stay open to everyone.
  for (const path of ['/healthz', '/metrics', '/docs/json']) {
    assert.equal((await call(`${g.url}${path}`, { headers: { 'x-forwarded-for': '203.0.113.7' } })).status, 200, path);
  }
});

test('open mode: a proxy on this host that TRUST_PROXY does not name cannot open the gateway to its clients', async () => {
  const g = await gateway('open-untrusted');
  for (const headers of [{ 'x-forwarded-for': '198.51.100.4' }, { 'x-real-ip': '198.51.100.4' }, { forwarded: 'for="[2001:db8::1]:4711";proto=https' }] as Array<Record<string, string>>) {
    const res = await call(`${g.url}/jobs`, { body: classify(), headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
  }
  assert.equal((await call(`${g.url}/jobs`, { body: classify(), headers: { 'x-forwarded-for': '127.0.0.1, ::1' } })).status, 202);
});

test('with keys: a missing, malformed, unknown or revoked key is 401 with WWW-Authenticate; a valid one passes', async () => {
  const g = await gateway('keys');
  const { key, secret } = await g.keys.create({ name: 'reader-writer' });
  // The gateway notices keys created after it started (it reads again within a second).
  const missing = await waitFor(() => call(`${g.url}/jobs`, { body: classify() }), (res) => res.status === 401, 'the gateway to see the new key');
  assert.equal(missing.body.error.code, 'unauthorized');
  assert.match(missing.body.error.message, /Authorization: Bearer/);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer');

  const wrong = await call(`${g.url}/jobs`, { body: classify(), key: secret.slice(0, -2) + 'xx' });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate')!, /^Bearer error="invalid_token"/);
  assert.equal((await call(`${g.url}/jobs`, { body: classify(), key: 'cur_nonsense' })).status, 401);
  assert.equal((await call(`${g.url}/jobs`, { body: classify(), headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).status, 401);

  const ok = await call(`${g.url}/jobs`, { body: classify(), key: secret });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  assert.equal((await call(`${g.url}/jobs/${ok.body.id}`, { key: secret })).status, 200);
  assert.ok((await g.keys.get(key.id))?.lastUsedAt, 'the use is recorded');

  await g.keys.revoke(key.id);
  const revoked = await call(`${g.url}/jobs/${ok.body.id}`, { key: secret });
  assert.equal(revoked.status, 401);
  assert.match(revoked.body.error.message, /revoked/);

  // Probes, metrics and the API docs need no key.
  for (const path of ['/healthz', '/metrics', '/docs/json']) assert.equal((await call(`${g.url}${path}`)).status, 200, path);
  assert.equal((await call(`${g.url}/readyz`)).body.checks.redis, 'ok');
});

test('scopes: read cannot submit (403); submit can read its own jobs; admin can do both', async () => {
  const g = await gateway('scopes');
  const reader = await keyFor(g, { name: 'reader', scopes: ['read'] });
  const submitter = await keyFor(g, { name: 'submitter', scopes: ['submit'] });
  const admin = await keyFor(g, { name: 'admin', scopes: ['admin'] });

  const forbidden = await call(`${g.url}/jobs`, { body: classify(), key: reader });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, 'forbidden');
  assert.match(forbidden.body.error.message, /"submit" scope/);
  assert.equal((await call(`${g.url}/jobs/00000000-0000-4000-8000-000000000000/cancel`, { method: 'POST', key: reader })).status, 403);

  const mine = await call(`${g.url}/jobs`, { body: classify(), key: submitter });
  assert.equal(mine.status, 202);
  assert.equal((await call(`${g.url}/jobs/${mine.body.id}`, { key: submitter })).status, 200, 'submit implies reading its own jobs');
  assert.equal((await call(`${g.url}/jobs`, { body: classify(), key: admin })).status, 202);
  assert.equal((await call(`${g.url}/workers`, { key: reader })).status, 200);
});

test("one key cannot see another key's job (404 on every route); admin sees every job", async () => {
  const g = await gateway('owners');
  const alice = await keyFor(g, { name: 'alice' });
  const bob = await keyFor(g, { name: 'bob' });
  const admin = await keyFor(g, { name: 'ops', scopes: ['admin'] });
  const { body: job } = await call(`${g.url}/jobs`, { body: classify(), key: alice });
  assert.equal((await call(`${g.url}/jobs/${job.id}`, { key: alice })).status, 200);
  for (const [method, path] of [
    ['GET', `/jobs/${job.id}`],
    ['GET', `/jobs/${job.id}/events`],
    ['POST', `/jobs/${job.id}/cancel`],
  ] as const) {
    const res = await call(`${g.url}${path}`, { method, key: bob });
    assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'job_not_found');
  }
  const lookup = await call(`${g.url}/jobs?ids=${job.id}`, { key: bob });
  assert.equal(lookup.body.jobs[0].error.code, 'job_not_found');
  assert.equal((await call(`${g.url}/jobs/${job.id}`, { key: admin })).status, 200);
});

test('rate limit per key, shared by replicas: 429 with Retry-After and RateLimit-* headers, then the window resets', async () => {
  const vars = { RATE_LIMIT_PER_MINUTE: '100' };
  const one = await gateway('rate', vars, { rateLimitWindowMs: 2000 });
  const two = await gateway('rate', vars, { rateLimitWindowMs: 2000 });
  const limited = await keyFor(one, { name: 'limited', rateLimitPerMinute: 3 });
  const other = await keyFor(one, { name: 'other', rateLimitPerMinute: 3 });
  const read = (i: number, key: string) => call(`${(i % 2 === 0 ? one : two).url}/jobs?ids=1b4e28ba-2fa1-41d2-883f-0e1e5e3a6c2d`, { key });

  const first = await read(0, limited);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('ratelimit-limit'), '3');
  assert.ok(Number(first.headers.get('ratelimit-remaining')) <= 2);
  assert.ok(Number(first.headers.get('ratelimit-reset')) >= 1);
  // Both replicas count against the one limit: within one window at most 3 pass, then 429.
  let refused: Awaited<ReturnType<typeof read>> | null = null;
  for (let i = 1; i < 20 && !refused; i++) {
    const res = await read(i, limited);
    if (res.status === 429) refused = res;
    else assert.equal(res.status, 200);
  }
  assert.ok(refused, 'the limit is reached');
  assert.equal(refused.body.error.code, 'rate_limited');
  assert.match(refused.body.error.message, /3 requests per 2 s for this API key/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal(refused.headers.get('ratelimit-remaining'), '0');
  assert.equal(refused.headers.get('ratelimit-limit'), '3');
  // Another key has a count of its own.
  assert.equal((await read(0, other)).status, 200);
  // The window ends and the key may call again.
  const reset = await waitFor(() => read(0, limited), (res) => res.status === 200, 'the rate limit window to reset');
  assert.equal(reset.headers.get('ratelimit-limit'), '3');
});

test('daily job quota: every job of a batch counts, a batch that would pass it is refused whole, refused and replayed requests count nothing', async () => {
  const g = await gateway('quota');
  const key = await keyFor(g, { name: 'quota', dailyJobQuota: 3 });
  const idempotent = { 'idempotency-key': 'quota-test-1' };
  const first = await call(`${g.url}/jobs`, { key, body: classify('one'), headers: idempotent });
  assert.equal(first.status, 202);
  // A client retrying with the same Idempotency-Key gets its job back without spending quota.
  const replay = await call(`${g.url}/jobs`, { key, body: classify('one'), headers: idempotent });
  assert.equal(replay.body.id, first.body.id);
  assert.equal((await call(`${g.url}/jobs`, { key, body: { type: 'classify', input: { text: '' } } })).status, 400, 'invalid: refused and not counted');

  const before = await waitingJobs(g.queues);
  const over = await call(`${g.url}/jobs`, { key, body: { jobs: [classify('two'), classify('three'), classify('four')] } });
  assert.equal(over.status, 429);
  assert.equal(over.body.error.code, 'quota_exceeded');
  assert.match(over.body.error.message, /3 jobs per UTC day.*2 left today, 3 asked for/);
  const retryAfter = Number(over.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 86_400, `Retry-After ${retryAfter} points to the next UTC midnight`);
  assert.equal(await waitingJobs(g.queues), before, 'nothing of the refused batch was enqueued');

  assert.equal((await call(`${g.url}/jobs`, { key, body: { jobs: [classify('two'), classify('three')] } })).status, 202, 'the two jobs left fit');
  const spent = await call(`${g.url}/jobs`, { key, body: classify('four') });
  assert.equal(spent.status, 429);
  assert.match(spent.body.error.message, /0 left today, 1 asked for/);
  // Reads are not jobs.
  assert.equal((await call(`${g.url}/workers`, { key })).status, 200);
});

test('daily job quota spent: a replayed Idempotency-Key (submit, batch, rerun) gets its jobs back at no cost; a new request is 429, another body 409', async () => {
  const g = await gateway('quota-replay');
  const { key: stored, secret: key } = await g.keys.create({ name: 'replayer', dailyJobQuota: 4 });
  const quota = new DailyJobQuota(t.redis, g.prefix);
  const batchBody = { jobs: [classify('batch one'), classify('batch two')] };
  const batch = await call(`${g.url}/jobs`, { key, body: batchBody, headers: { 'idempotency-key': 'replay-batch' } });
  assert.equal(batch.status, 202, JSON.stringify(batch.body));
  const one = await call(`${g.url}/jobs`, { key, body: classify('one'), headers: { 'idempotency-key': 'replay-one' } });
  assert.equal(one.status, 202, JSON.stringify(one.body));
  const rerun = await call(`${g.url}/jobs/${one.body.id}/rerun`, { key, body: {}, headers: { 'idempotency-key': 'replay-rerun' } });
  assert.equal(rerun.status, 202, JSON.stringify(rerun.body));
  assert.equal(await quota.used(stored.id), 4, 'the quota is spent');

  // New work is refused, with or without a key of its own.
  const fresh = await call(`${g.url}/jobs`, { key, body: classify('two') });
  assert.equal(fresh.status, 429);
  assert.equal(fresh.body.error.code, 'quota_exceeded');
  const freshKeyed = await call(`${g.url}/jobs`, { key, body: classify('two'), headers: { 'idempotency-key': 'replay-new' } });
  assert.equal(freshKeyed.status, 429);
  assert.equal(freshKeyed.body.error.code, 'quota_exceeded');
  assert.equal((await call(`${g.url}/jobs/${one.body.id}/rerun`, { key, body: {}, headers: { 'idempotency-key': 'replay-rerun-new' } })).status, 429);

  // The client lost its answers and sends the very same requests again: its jobs come back.
  const batchAgain = await call(`${g.url}/jobs`, { key, body: batchBody, headers: { 'idempotency-key': 'replay-batch' } });
  assert.equal(batchAgain.status, 202, JSON.stringify(batchAgain.body));
  assert.equal(batchAgain.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(batchAgain.body.jobs.map((job: { id: string }) => job.id), batch.body.jobs.map((job: { id: string }) => job.id));
  const oneAgain = await call(`${g.url}/jobs`, { key, body: classify('one'), headers: { 'idempotency-key': 'replay-one' } });
  assert.equal(oneAgain.status, 202, JSON.stringify(oneAgain.body));
  assert.equal(oneAgain.headers.get('idempotent-replayed'), 'true');
  assert.equal(oneAgain.body.id, one.body.id);
  const rerunAgain = await call(`${g.url}/jobs/${one.body.id}/rerun`, { key, body: {}, headers: { 'idempotency-key': 'replay-rerun' } });
  assert.equal(rerunAgain.status, 202, JSON.stringify(rerunAgain.body));
  assert.equal(rerunAgain.headers.get('idempotent-replayed'), 'true');
  assert.equal(rerunAgain.body.id, rerun.body.id);

  // The same key with another body: the conflict says more than the quota would.
  const conflict = await call(`${g.url}/jobs`, { key, body: classify('not one'), headers: { 'idempotency-key': 'replay-one' } });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, 'idempotency_conflict');
  assert.equal(await quota.used(stored.id), 4, 'replays and the conflict cost nothing');

  // Idempotency-Keys are per API key: another key's "replay-one" names none of its jobs.
  const { key: otherStored, secret: other } = await g.keys.create({ name: 'other', dailyJobQuota: 1 });
  assert.equal((await call(`${g.url}/jobs`, { key: other, body: classify('theirs') })).status, 202);
  const notTheirs = await call(`${g.url}/jobs`, { key: other, body: classify('one'), headers: { 'idempotency-key': 'replay-one' } });
  assert.equal(notTheirs.status, 429);
  assert.equal(notTheirs.body.error.code, 'quota_exceeded');
  assert.equal(await quota.used(otherStored.id), 1);
});

test('content policy at submission: 422 content_policy naming the field, nothing enqueued; keys add terms or are exempt', async () => {
  const g = await gateway('policy', { CONTENT_POLICY_TERMS: 'dragon, bad word', CONTENT_POLICY_PATTERNS: JSON.stringify(['secret-\\d{3}']) });
  const plain = await keyFor(g, { name: 'plain' });
  const strict = await keyFor(g, { name: 'strict', contentPolicy: { terms: ['unicorn'] } });
  const exempt = await keyFor(g, { name: 'exempt', contentPolicy: { exempt: true } });
  const before = await waitingJobs(g.queues);

  const prompt = await call(`${g.url}/jobs`, { key: plain, body: { type: 'text-to-image', input: { prompt: 'A red D R A G O N over the bay' } } });
  assert.equal(prompt.status, 422);
  assert.equal(prompt.body.error.code, 'content_policy');
  assert.deepEqual(prompt.body.error.details, [{ path: 'input.prompt', message: 'contains a blocked term' }]);
  assert.ok(!JSON.stringify(prompt.body).includes('dragon'), 'the refused term is not told to the caller');

  const negative = await call(`${g.url}/jobs`, { key: plain, body: { type: 'text-to-image', input: { prompt: 'a bay' }, params: { negativePrompt: 'no SECRET-123 please' } } });
  assert.deepEqual(negative.body.error.details, [{ path: 'params.negativePrompt', message: 'matches a blocked pattern' }]);

  const batch = await call(`${g.url}/jobs`, { key: plain, body: { jobs: [classify(), { type: 'curate', input: { text: 'The harbour reopened.' }, params: { imagePrefix: 'Bad-word style - ' } }] } });
  assert.equal(batch.status, 422);
  assert.equal(batch.body.error.details[0].path, 'jobs.1.params.imagePrefix');
  assert.equal(await waitingJobs(g.queues), before, 'nothing was enqueued');

  assert.equal((await call(`${g.url}/jobs`, { key: strict, body: { type: 'text-to-image', input: { prompt: 'a unicorn' } } })).status, 422, "the key's own term");
  assert.equal((await call(`${g.url}/jobs`, { key: plain, body: { type: 'text-to-image', input: { prompt: 'a unicorn' } } })).status, 202);
  assert.equal((await call(`${g.url}/jobs`, { key: exempt, body: { type: 'text-to-image', input: { prompt: 'a dragon' } } })).status, 202, 'an exempt key');
  // Article text is not a prompt: the policy reads what becomes a picture.
  assert.equal((await call(`${g.url}/jobs`, { key: plain, body: classify('The dragon boat festival') })).status, 202);
});

test('GET /workers: job ids in flight for admin callers only; others see types and stages', async () => {
  const g = await gateway('workers');
  const admin = await keyFor(g, { name: 'ops', scopes: ['admin'] });
  const reader = await keyFor(g, { name: 'reader', scopes: ['read', 'submit'] });
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const env = loadEnv({ ...t.vars, QUEUE_PREFIX: g.prefix });
  const runtime: JobRuntime = await startJobRuntime({
    settings: queueSettingsFromEnv(env),
    pools: ['text'],
    concurrency: 1,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 200,
    describe: () => ({ jobTypes: ['classify'], device: 'cpu', models: [] }),
    logger,
    handlers: {
      classify: {
        stages: () => ['sentiment'],
        run: (_request, job) => job.stage('sentiment', {}, async () => (await held, { value: { task: 'sentiment' as const, label: 'positive', scores: { positive: 1 }, model: 'held', models: 'test' as const } })),
      },
    },
  });
  try {
    const { body: job } = await call(`${g.url}/jobs`, { key: reader, body: classify() });
    const seen = await waitFor(() => call(`${g.url}/workers`, { key: admin }), (res) => res.body.workers.some((w: any) => w.jobs.length > 0), 'a worker to report the job');
    assert.deepEqual(seen.body.workers[0].jobs, [{ id: job.id, type: 'classify', stage: 'sentiment' }]);
    const hidden = await call(`${g.url}/workers`, { key: reader });
    assert.equal(hidden.status, 200);
    assert.deepEqual(hidden.body.workers[0].jobs, [{ type: 'classify', stage: 'sentiment' }]);
    assert.ok(!JSON.stringify(hidden.body).includes(job.id), 'no job id anywhere');
  } finally {
    release();
    await runtime.close();
  }
});

test('a key never reaches the logs: the gateway logger redacts Authorization', async () => {
  const lines: string[] = [];
  const recorder = createLogger('test', 'info', { write: (line: string) => void lines.push(line) });
  recorder.info({ req: { headers: { authorization: 'Bearer cur_0123456789abcdef_secret' } }, headers: { authorization: 'Bearer cur_x' } }, 'a request');
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes('cur_'), lines[0]);
});
