// The job runtime with hand-written stage handlers on real Redis: what the runtime guarantees to
// every handler (result contracts, child jobs, failure mapping), whatever the models do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CuratorError, imageParamsSchema, jobRequestSchema, type StoredJobView } from '@curator/contracts';
import { JobQueues, startJobRuntime, type JobRuntime, type RuntimeHooks, type StageHandlers, type QueueSettings } from '../src/index.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
let settings: QueueSettings;
let queues: JobQueues;
let redis: Redis;

before(() => {
  settings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 2, backoffMs: 10, ttlSeconds: 600 };
  queues = new JobQueues({ settings, commandTimeoutMs: 5000, logger: silent });
  redis = new Redis(redisUrl);
});

after(async () => {
  await queues.close();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${settings.prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
  redis.disconnect();
});

async function withRuntime<T>(handlers: StageHandlers, run: (runtime: JobRuntime) => Promise<T>, hooks?: RuntimeHooks): Promise<T> {
  const runtime = await startJobRuntime({
    settings,
    ...(hooks ? { hooks } : {}),
    pools: ['text', 'image'],
    handlers,
    concurrency: 2,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 1000,
    describe: () => ({ jobTypes: ['classify', 'text-to-image'], device: 'cpu', models: [] }),
    logger: silent,
  });
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}

const submit = async (request: unknown) => (await queues.submit([jobRequestSchema.parse(request)]))[0]!.id;

async function finished(id: string): Promise<StoredJobView> {
  for (;;) {
    const view = await queues.get(id);
    if (view && ['succeeded', 'failed', 'canceled'].includes(view.status)) return view;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const classification = { task: 'sentiment' as const, label: 'positive', scores: { positive: 1 }, model: 'm', models: 'test' as const };
const image = { key: 'jobs/x/image-0.png', contentType: 'image/png', width: 8, height: 8, bytes: 10, seed: 1 };
const generation = { seed: 1, scheduler: 'pndm' as const, steps: 1, guidanceScale: 7.5, prompt: 'p', model: 'm' };

test('a result that does not match its contract fails the job as internal_error naming the path', async () => {
  const handlers: StageHandlers = {
    classify: {
      stages: () => ['sentiment'],
      // A bug in a handler: the label is missing.
      run: async (_request, job) => job.stage('sentiment', {}, async () => ({ value: { ...classification, label: undefined } as never })),
    },
  };
  await withRuntime(handlers, async () => {
    const view = await finished(await submit({ type: 'classify', input: { text: 'x' } }));
    assert.equal(view.status, 'failed');
    assert.equal(view.error?.code, 'internal_error');
    assert.match(view.error!.message, /classify result does not match its contract at result\.label/);
    assert.equal(view.error?.details?.[0]?.path, 'result.label');
    assert.equal(view.attempts.made, 1, 'a broken contract is not retried');
  });
});

test('an attempt is recorded as ended only once the jobSettled hook has resolved: what it books exists before the job shows finished', async () => {
  const handlers: StageHandlers = {
    classify: { stages: () => ['sentiment'], run: async (_request, job) => job.stage('sentiment', {}, async () => ({ value: classification })) },
  };
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const settledJobs: string[] = [];
  const hooks: RuntimeHooks = {
    jobSettled: ({ id }) => {
      settledJobs.push(id);
      return held;
    },
  };
  await withRuntime(
    handlers,
    async () => {
      const id = await submit({ type: 'classify', input: { text: 'held at the end' } });
      while (!settledJobs.includes(id)) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await queues.get(id))?.status, 'running', 'not finished while the hook holds it');
      release();
      const view = await finished(id);
      assert.equal(view.status, 'succeeded');
    },
    hooks,
  );
});

test('a child job in another pool returns its result and stages to the parent; a child that fails gives the parent its own error', async () => {
  let parentRuns = 0;
  const handlers: StageHandlers = {
    classify: {
      stages: () => ['sentiment', 'image'],
      async run(request, job) {
        parentRuns++;
        const first = await job.checkpoint('first', () => job.stage('sentiment', {}, async () => ({ value: classification })));
        const prompt = 'text' in request.input ? request.input.text : 'url';
        const child = await job.runChild({ type: 'text-to-image', input: { prompt }, params: imageParamsSchema.parse({}) });
        assert.equal(child.images[0]?.key, image.key);
        return first;
      },
    },
    'text-to-image': {
      stages: () => ['image'],
      async run(request, job) {
        assert.equal(job.parent?.id !== undefined, true);
        if (request.input.prompt === 'refuse') throw new CuratorError('bad_input', 'the prompt was refused', { details: [{ path: 'input.prompt', message: 'refused' }] });
        return job.stage('image', {}, async () => ({ value: { images: [image], generation, models: 'test' as const }, metrics: { steps: 1 } }));
      },
    },
  };
  await withRuntime(handlers, async () => {
    const ok = await finished(await submit({ type: 'classify', input: { text: 'draw me' } }));
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok.error));
    assert.deepEqual(ok.stages.map((s) => [s.name, s.status]), [['sentiment', 'succeeded'], ['image', 'succeeded']]);
    assert.equal(ok.stages[1]?.metrics?.steps, 1, "the child's stage became the parent's");
    assert.equal(parentRuns, 2, 'the parent ran again once its child was done, without redoing its checkpoint');

    const refused = await finished(await submit({ type: 'classify', input: { text: 'refuse' } }));
    assert.equal(refused.status, 'failed');
    assert.deepEqual(refused.error, { code: 'bad_input', message: 'the prompt was refused', details: [{ path: 'input.prompt', message: 'refused' }] });
  });
});

test('a transient failure is retried within the attempts; a final one is not; an unknown job type is not_implemented', async () => {
  let calls = 0;
  const handlers: StageHandlers = {
    classify: {
      stages: () => ['sentiment'],
      async run(request) {
        calls++;
        if ('text' in request.input && request.input.text === 'always') throw new CuratorError('storage_unavailable', 'down', { retryable: true });
        if (calls === 1) throw new CuratorError('storage_unavailable', 'blip', { retryable: true });
        return classification;
      },
    },
  };
  await withRuntime(handlers, async () => {
    const retried = await finished(await submit({ type: 'classify', input: { text: 'once' } }));
    assert.equal(retried.status, 'succeeded');
    assert.deepEqual(retried.attempts, { made: 2, max: 2 });
    const exhausted = await finished(await submit({ type: 'classify', input: { text: 'always' } }));
    assert.equal(exhausted.status, 'failed');
    assert.equal(exhausted.error?.code, 'storage_unavailable');
    assert.deepEqual(exhausted.attempts, { made: 2, max: 2 });
    const unknown = await finished(await submit({ type: 'summarize', input: { text: 'no handler' } }));
    assert.equal(unknown.error?.code, 'not_implemented');
  });
});
