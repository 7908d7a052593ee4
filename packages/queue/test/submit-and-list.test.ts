// Submitting with an Idempotency-Key, and listing an owner's jobs page by page, on real Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CuratorError, jobListQuerySchema, jobRequestSchema, type JobRequest } from '@curator/contracts';
import { JobQueues, keys, reapExpiredJobs, startJobRuntime, type Pool, type QueueSettings, type Viewer } from '../src/index.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
let settings: QueueSettings;
let queues: JobQueues;
let redis: Redis;
let bull: Record<Pool, Queue>;

before(() => {
  settings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 1, backoffMs: 10, ttlSeconds: 600 };
  queues = new JobQueues({ settings, commandTimeoutMs: 5000, logger: silent });
  redis = new Redis(redisUrl);
  bull = { text: new Queue('text', { connection: redis, prefix: settings.prefix }), image: new Queue('image', { connection: redis, prefix: settings.prefix }) };
});

after(async () => {
  await queues.close();
  await Promise.all(Object.values(bull).map((q) => q.close()));
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${settings.prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
  redis.disconnect();
});

const classify = (text: string): JobRequest => jobRequestSchema.parse({ type: 'classify', input: { text } });
const image = (prompt: string): JobRequest => jobRequestSchema.parse({ type: 'text-to-image', input: { prompt } });
const jobsInRedis = (pool: Pool) => bull[pool].getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
const conflict = (error: unknown) => (error as CuratorError).code === 'idempotency_conflict';

test('the same Idempotency-Key and request give back the same job, once enqueued; another request under it is 409', async () => {
  const idempotency = { key: 'order-1', fingerprint: 'request-a' };
  const before = await jobsInRedis('text');
  const [first] = await queues.submit([classify('one')], { owner: 'alice', idempotency });
  assert.equal(first!.replayed, false);
  const [again] = await queues.submit([classify('one')], { owner: 'alice', idempotency });
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(await jobsInRedis('text'), before + 1, 'one job, whatever the number of submissions');
  assert.equal((await queues.get(first!.id))?.status, 'queued');

  await assert.rejects(queues.submit([classify('two')], { owner: 'alice', idempotency: { key: 'order-1', fingerprint: 'request-b' } }), conflict);
  // Another request of another type (its job would go to another queue) is refused the same way.
  await assert.rejects(queues.submit([image('two')], { owner: 'alice', idempotency: { key: 'order-1', fingerprint: 'request-c' } }), conflict);
  assert.equal(await jobsInRedis('image'), 0, 'nothing was enqueued for a refused request');

  // Keys belong to their owner: bob's order-1 is a job of its own.
  const [bobs] = await queues.submit([classify('one')], { owner: 'bob', idempotency });
  assert.notEqual(bobs!.id, first!.id);
  assert.equal(bobs!.replayed, false);
});

test('concurrent submissions with one key make one job; a batch under a key gives back its jobs in order, also after a partial first attempt', async () => {
  const idempotency = { key: randomUUID(), fingerprint: 'same' };
  const all = await Promise.all(Array.from({ length: 6 }, () => queues.submit([classify('raced')], { owner: 'carol', idempotency })));
  assert.equal(new Set(all.map(([job]) => job!.id)).size, 1);
  assert.equal(all.filter(([job]) => !job!.replayed).length <= 1, true);

  const batch = { key: randomUUID(), fingerprint: 'batch' };
  const requests = [classify('b1'), image('b2'), classify('b3')];
  const made = await queues.submit(requests, { owner: 'carol', idempotency: batch });
  assert.equal(new Set(made.map((j) => j.id)).size, 3);
  // As if the first attempt's transaction had reached only one queue: the text jobs are not there.
  await bull.text.remove(made[0]!.id);
  const replayed = await queues.submit(requests, { owner: 'carol', idempotency: batch });
  assert.deepEqual(replayed.map((j) => j.id), made.map((j) => j.id));
  assert.deepEqual(replayed.map((j) => j.replayed), [false, true, true]);
  assert.equal((await queues.get(made[0]!.id))?.status, 'queued', 'the missing job was added under its id');
});

test('an attempt that took the key but never reached its add (Redis went away in between) leaves nothing behind: the retry makes the job', async () => {
  const idempotency = { key: randomUUID(), fingerprint: 'interrupted' };
  const lock = keys(settings.prefix).idempotencyLock(createHash('sha256').update(`helen\0${idempotency.key}`).digest('hex'));
  await redis.set(lock, idempotency.fingerprint, 'PX', 60_000);
  const [job] = await queues.submit([classify('interrupted')], { owner: 'helen', idempotency });
  assert.equal((await queues.get(job!.id))?.status, 'queued', 'the job exists');
  await assert.rejects(queues.submit([classify('other')], { owner: 'helen', idempotency: { ...idempotency, fingerprint: 'other' } }), conflict);
});

test('a key is kept as long as its job: once the job is removed after its ttl, the key makes a new one', async () => {
  const idempotency = { key: randomUUID(), fingerprint: 'kept' };
  const worker = await startJobRuntime({
    settings,
    pools: ['text'],
    handlers: { classify: { stages: () => ['sentiment'], run: async () => ({ task: 'sentiment', label: 'positive', scores: { positive: 1 }, model: 'm', models: 'test' }) } },
    concurrency: 1,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 1000,
    describe: () => ({ jobTypes: ['classify'], device: 'cpu', models: [] }),
    logger: silent,
  });
  let id: string;
  try {
    id = (await queues.submit([classify('kept')], { owner: 'dave', idempotency }))[0]!.id;
    for (;;) {
      if ((await queues.get(id))?.status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await worker.close();
  }
  assert.equal((await queues.submit([classify('kept')], { owner: 'dave', idempotency }))[0]!.replayed, true);
  // (The worker ran the other queued classify jobs of this file too: they are due as well.)
  assert.ok((await reapExpiredJobs(redis, settings.prefix, bull, Date.parse((await queues.get(id))!.expiresAt!) + 1)) >= 1);
  assert.equal(await queues.get(id), null);
  const [fresh] = await queues.submit([classify('kept')], { owner: 'dave', idempotency });
  assert.equal(fresh!.replayed, false);
  assert.equal((await queues.get(fresh!.id))?.status, 'queued');
});

const list = (viewer: Viewer, query: Record<string, unknown> = {}) => queues.page(jobListQuerySchema.parse(query), viewer);

async function pages(viewer: Viewer, query: Record<string, unknown>): Promise<string[][]> {
  const out: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list(viewer, { ...query, ...(cursor ? { cursor } : {}) });
    out.push(page.jobs.map((j) => j.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

test("an owner lists its own jobs newest first, page by page; an admin lists everyone's; filters narrow the list", async () => {
  const erin: Viewer = { owner: 'erin', all: false };
  const ids: string[] = [];
  // One at a time (distinct creation times), then a batch of five that share one.
  for (const text of ['e1', 'e2', 'e3']) {
    ids.push((await queues.submit([classify(text)], { owner: 'erin' }))[0]!.id);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  const batch = await queues.submit([classify('e4'), image('e5'), classify('e6'), image('e7'), classify('e8')], { owner: 'erin' });
  ids.push(...batch.map((j) => j.id));
  await queues.submit([classify('someone else')], { owner: 'frank' });

  const all = await pages(erin, { limit: 100 });
  assert.equal(all.length, 1);
  assert.deepEqual(new Set(all[0]), new Set(ids), "erin's jobs, and only hers");
  const paged = await pages(erin, { limit: 3 });
  assert.deepEqual(paged.map((p) => p.length), [3, 3, 2], 'the last page has the rest and no cursor');
  assert.deepEqual(paged.flat(), all[0], 'pages follow each other without gaps or repeats, in the same order');
  const views = (await queues.list(all[0]!)).map((v) => v!);
  for (let i = 1; i < views.length; i++) assert.ok(views[i - 1]!.createdAt >= views[i]!.createdAt, 'newest first');
  assert.deepEqual(all[0]!.slice(-3), ids.slice(0, 3).reverse());

  // Jobs submitted between two pages never shift the next page.
  const first = await list(erin, { limit: 4 });
  const late = (await queues.submit([classify('late')], { owner: 'erin' }))[0]!.id;
  const second = await list(erin, { limit: 100, cursor: first.nextCursor! });
  assert.deepEqual([...first.jobs.map((j) => j.id), ...second.jobs.map((j) => j.id)], all[0]);
  assert.equal((await list(erin, { limit: 1 })).jobs[0]!.id, late, 'and show on a fresh first page');

  const images = await pages(erin, { limit: 1, type: 'text-to-image' });
  assert.deepEqual(images.flat(), [batch[3]!.id, batch[1]!.id].sort().reverse());
  assert.deepEqual((await pages(erin, { status: 'succeeded' })).flat(), []);
  const createdAfter = (await queues.get(ids[1]!))!.createdAt;
  const newer = (await pages(erin, { createdAfter })).flat();
  assert.ok(!newer.includes(ids[0]!) && !newer.includes(ids[1]!) && newer.includes(ids[2]!));
  const older = (await pages(erin, { createdBefore: createdAfter })).flat();
  assert.deepEqual(older, [ids[0]]);

  const admin = (await pages({ owner: 'root', all: true }, { limit: 100 })).flat();
  assert.ok(ids.every((id) => admin.includes(id)) && admin.length > ids.length, 'an admin sees every owner');
  assert.deepEqual((await pages({ owner: 'nobody', all: false }, {})).flat(), []);
  await assert.rejects(list(erin, { cursor: 'not-a-cursor' }), (error: CuratorError) => error.code === 'validation_failed' && error.details?.[0]?.path === 'querystring.cursor');
});

test('a listing entry whose job is gone is dropped when it is met', async () => {
  const id = (await queues.submit([classify('vanishes')], { owner: 'gina' }))[0]!.id;
  await bull.text.remove(id);
  assert.deepEqual((await list({ owner: 'gina', all: false })).jobs, []);
  assert.equal(await redis.zcard(keys(settings.prefix).ownerJobs('gina')), 0);
});
