// A job's life in @curator/queue on real Redis, with hand-written stage handlers the test steers:
// deadlines and `expired`, timing and lifetime fields, retry under the same id, removal after the
// ttl, a parent that never looks queued again while it waits for its child.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CuratorError, jobRequestSchema, terminalStatuses, type StoredJobView } from '@curator/contracts';
import { JobQueues, FeedbackLog, keys, reapExpiredJobs, startJobRuntime, type JobRuntime, type Pool, type StageHandlers, type QueueSettings } from '../src/index.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
let settings: QueueSettings;
let queues: JobQueues;
let redis: Redis;
let bull: Record<Pool, Queue>;

before(() => {
  settings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 2, backoffMs: 10, ttlSeconds: 600 };
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

function runtime(handlers: StageHandlers, pools: Pool[] = ['text', 'image']): Promise<JobRuntime> {
  return startJobRuntime({
    settings,
    pools,
    handlers,
    concurrency: 2,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 1000,
    describe: () => ({ jobTypes: ['classify', 'curate', 'text-to-image'], device: 'cpu', models: [] }),
    logger: silent,
  });
}

const submit = async (request: unknown, options = {}) => (await queues.submit([jobRequestSchema.parse(request)], options))[0]!.id;

async function until(id: string, done: (view: StoredJobView) => boolean): Promise<StoredJobView> {
  for (;;) {
    const view = await queues.get(id);
    if (view && done(view)) return view;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const finished = (id: string) => until(id, (view) => terminalStatuses.includes(view.status));

/** A promise and its resolver: lets a handler wait for the test. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const classification = { task: 'sentiment' as const, label: 'positive', scores: { positive: 1 }, model: 'm', models: 'test' as const };
const image = { key: 'jobs/x/image-0.png', contentType: 'image/png', width: 8, height: 8, bytes: 10, seed: 1 };
const card = { key: 'jobs/x/card.png', contentType: 'image/png', width: 8, height: 12, bytes: 12 };
const generation = { seed: 1, scheduler: 'pndm' as const, steps: 1, guidanceScale: 7.5, prompt: 'p', model: 'm' };

test('a job whose deadline passed before a worker took it ends expired, never runs, and is not retried', async () => {
  let runs = 0;
  const past = await submit({ type: 'classify', input: { text: 'too late' }, deadline: new Date(Date.now() - 1000).toISOString() });
  const future = await submit({ type: 'classify', input: { text: 'in time' }, deadline: new Date(Date.now() + 3_600_000).toISOString() });
  const worker = await runtime({ classify: { stages: () => ['sentiment'], run: async (_r, job) => (runs++, job.stage('sentiment', {}, async () => ({ value: classification }))) } });
  try {
    const expired = await finished(past);
    assert.equal(expired.status, 'expired');
    assert.equal(expired.error?.code, 'deadline_exceeded');
    assert.equal(expired.startedAt, null, 'it never started');
    assert.equal(expired.queueWaitMs, null);
    assert.equal(expired.runMs, null);
    assert.equal(expired.attempts.made, 1, 'not retried');
    assert.ok(expired.deadline && Date.parse(expired.deadline) < Date.parse(expired.finishedAt!));
    const ran = await finished(future);
    assert.equal(ran.status, 'succeeded');
    assert.equal(runs, 1, 'only the job in time ran');
  } finally {
    await worker.close();
  }
});

test('a finished job shows its queue wait, run time and when it expires; the reaper removes it after its ttl with its listing entries and feedback', async () => {
  const worker = await runtime({ classify: { stages: () => ['sentiment'], run: async (_r, job) => job.stage('sentiment', {}, async () => ({ value: classification })) } });
  let id: string;
  let view: StoredJobView;
  try {
    id = await submit({ type: 'classify', input: { text: 'timed' }, ttlSeconds: 120 }, { owner: 'owner-ttl' });
    view = await finished(id);
  } finally {
    await worker.close();
  }
  assert.equal(view.status, 'succeeded');
  assert.ok(view.queueWaitMs !== null && view.queueWaitMs >= 0);
  assert.ok(view.runMs !== null && view.runMs >= 0);
  assert.equal(Date.parse(view.startedAt!) - Date.parse(view.createdAt), view.queueWaitMs, 'queue wait: from submission to start');
  assert.equal(Date.parse(view.finishedAt!) - Date.parse(view.startedAt!), view.runMs, 'run time: from start to the final status');
  assert.equal(Date.parse(view.expiresAt!), Date.parse(view.finishedAt!) + 120_000, 'its own ttl after it finished');
  assert.deepEqual(view.history, []);
  assert.equal(view.rerunOf, null);

  const feedback = await queues.feedback(id, { owner: 'owner-ttl', all: false }, { rating: 4, field: 'overall' });
  assert.equal(feedback?.jobId, id);
  const k = keys(settings.prefix);
  assert.equal(await redis.zscore(k.ownerJobs('owner-ttl'), `classify/${id}`) !== null, true);

  // Not yet: the reaper leaves it alone before its time.
  assert.equal(await reapExpiredJobs(redis, settings.prefix, bull, Date.parse(view.expiresAt!) - 1000), 0);
  assert.ok(await queues.get(id));
  assert.equal(await reapExpiredJobs(redis, settings.prefix, bull, Date.parse(view.expiresAt!) + 5000), 1);
  assert.equal(await queues.get(id), null, 'the job is gone');
  assert.equal(await redis.zscore(k.ownerJobs('owner-ttl'), `classify/${id}`), null, 'and its listing entries');
  assert.equal(await redis.zscore(k.allJobs, `classify/${id}`), null);
  assert.equal(await redis.exists(k.jobFeedback(id)), 0, 'and its feedback list');
  const exported = [];
  for await (const entry of new FeedbackLog(redis, settings.prefix).export()) exported.push(entry.jobId);
  assert.ok(exported.includes(id), 'the global feedback stream keeps the entry for export');
});

test('retry runs a failed job again under its id: history keeps the earlier run, attempts start over; other jobs are not retryable', async () => {
  let calls = 0;
  const worker = await runtime({
    classify: {
      stages: () => ['sentiment'],
      run: async (_r, job) =>
        job.stage('sentiment', {}, async () => {
          calls++;
          if (calls === 1) throw new CuratorError('bad_input', 'refused the first time');
          return { value: classification };
        }),
    },
  });
  try {
    const id = await submit({ type: 'classify', input: { text: 'second time lucky' } });
    const failed = await finished(id);
    assert.equal(failed.status, 'failed');
    assert.equal(await queues.retry(randomUUID()), null, 'an unknown job');
    const retried = await queues.retry(id);
    assert.ok(retried);
    assert.equal(retried.id, id);
    assert.deepEqual(retried.history.map((h) => [h.attempt, h.status, h.error?.code, h.finishedAt]), [[1, 'failed', 'bad_input', failed.finishedAt]]);
    const done = await finished(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts.made, 1, 'attempts started over');
    assert.equal(done.history.length, 1);
    assert.equal(done.error, null);
    assert.ok(Date.parse(done.startedAt!) >= Date.parse(failed.finishedAt!), 'the new run has its own start');
    await assert.rejects(queues.retry(id), (error: CuratorError) => error.code === 'job_not_retryable');
  } finally {
    await worker.close();
  }
});

test('an expired job can be retried: its passed deadline no longer applies', async () => {
  const id = await submit({ type: 'classify', input: { text: 'expired, then retried' }, deadline: new Date(Date.now() - 1000).toISOString() });
  const worker = await runtime({ classify: { stages: () => ['sentiment'], run: async (_r, job) => job.stage('sentiment', {}, async () => ({ value: classification })) } });
  try {
    assert.equal((await finished(id)).status, 'expired');
    const retried = await queues.retry(id);
    assert.equal(retried?.deadline, null);
    const done = await finished(id);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(done.history.map((h) => [h.status, h.error?.code]), [['expired', 'deadline_exceeded']]);
  } finally {
    await worker.close();
  }
});

/** A curate job's handler in the shape of the real one: text stages kept in a checkpoint, then the image stages as a child job. */
function curateHandlers(imageGate: { opened: Promise<void> }, reached: () => void, failImageOnce: { left: number }): StageHandlers {
  return {
    curate: {
      stages: () => ['extract', 'sentiment', 'summarize', 'headline', 'image', 'card'],
      async run(_request, job) {
        const text = await job.checkpoint('text', async () => {
          for (const name of ['extract', 'sentiment', 'summarize', 'headline']) await job.stage(name, {}, async () => ({ value: name }));
          return { title: null, summary: 'summary', headline: 'headline', analysis: classification };
        });
        const images = await job.runChild({ type: 'text-to-image', input: { prompt: 'p' }, params: { steps: 1, guidanceScale: 7.5, width: 64, height: 64, numImages: 1, format: 'png' } }, { card: { text: 'headline' } });
        return { ...text, cardText: 'headline', image: { image: images.images[0]!, card: images.card!, generation: images.generation }, models: 'test' };
      },
    },
    'text-to-image': {
      stages: () => ['image', 'card'],
      async run(_request, job) {
        reached();
        await imageGate.opened;
        if (failImageOnce.left-- > 0) throw new CuratorError('bad_input', 'the image was refused once');
        const images = await job.stage('image', {}, async () => ({ value: { images: [image], generation } }));
        const made = await job.stage('card', {}, async () => ({ value: card }));
        return { ...images, card: made, models: 'test' };
      },
    },
  };
}

test('a parent whose child finished shows running while it waits for a worker again, never queued', async () => {
  const imageGate = gate();
  const reachedImage = gate();
  const handlers = curateHandlers(imageGate, reachedImage.open, { left: 0 });
  const textWorker = await runtime(handlers, ['text']);
  const imageWorker = await runtime(handlers, ['image']);
  const statuses: string[] = [];
  let watching = true;
  let id = '';
  const watcher = (async () => {
    while (watching) {
      const view = id ? await queues.get(id) : null;
      if (view && statuses.at(-1) !== view.status) statuses.push(view.status);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  let restarted: JobRuntime | null = null;
  try {
    id = await submit({ type: 'curate', input: { text: 'a harbour reopens' } });
    await reachedImage.opened;
    // No text worker while the child finishes: the parent goes back to BullMQ's wait list and stays there.
    await textWorker.close();
    imageGate.open();
    for (;;) {
      if ((await bull.text.getJobState(id)) === 'waiting') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const waiting = await queues.get(id);
    assert.equal(waiting?.status, 'running', 'a parent back in the queue after its child is still under way');
    assert.deepEqual(waiting?.stages.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded'], "the child's finished stages show");
    assert.equal(waiting?.attempts.made, 1);
    assert.ok(waiting.startedAt && waiting.queueWaitMs !== null);
    restarted = await runtime(handlers, ['text']);
    const done = await finished(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.startedAt, waiting.startedAt, 'the run keeps the start of its first attempt');
  } finally {
    watching = false;
    await watcher;
    await restarted?.close();
    await imageWorker.close();
  }
  assert.equal(statuses.at(-1), 'succeeded');
  const firstRunning = statuses.indexOf('running');
  assert.ok(firstRunning >= 0 && !statuses.slice(firstRunning).includes('queued'), `statuses went ${statuses.join(' -> ')}`);
});

test('retrying a parent that failed with its child starts the child afresh', async () => {
  const imageGate = gate();
  imageGate.open();
  const worker = await runtime(curateHandlers(imageGate, () => undefined, { left: 1 }));
  try {
    const id = await submit({ type: 'curate', input: { text: 'the child fails once' } });
    const failed = await finished(id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'bad_input');
    await queues.retry(id);
    const done = await finished(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.history[0]?.error?.code, 'bad_input');
  } finally {
    await worker.close();
  }
});
