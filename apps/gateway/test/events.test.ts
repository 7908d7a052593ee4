// GET /jobs/:id/events over a real socket: pushed from job changes, resumable with Last-Event-ID.
// The jobs are run by the real job runtime with a handler the test steers, so each change happens
// when the test says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CuratorError, jobRequestSchema, type JobEvent } from '@curator/contracts';
import { startJobRuntime, queueSettingsFromEnv, type JobQueues, type JobRuntime } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let app: Gateway;
let url: string;
let queues: JobQueues;
let storage: ObjectStorage;
let runtime: JobRuntime;
/** Each classify job waits at its stage for the test to call `steps.get(text)` (progress, then finish). */
const steps = new Map<string, { progress: () => void; finish: () => void; fail: () => void }>();
const logger = createLogger('test', 'silent');

before(async () => {
  t = await testEnvironment({ roles: [] });
  queues = createJobQueues(t.env, logger);
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  // Heartbeats every 50 ms here, so the test sees one without waiting 15 s.
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }), sseHeartbeatMs: 50 });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  runtime = await startJobRuntime({
    settings: queueSettingsFromEnv(t.env),
    pools: ['text'],
    concurrency: 4,
    lockMs: 5000,
    shutdownGraceMs: 1000,
    heartbeatMs: 1000,
    describe: () => ({ jobTypes: ['classify'], device: 'cpu', models: [] }),
    logger,
    handlers: {
      classify: {
        stages: () => ['sentiment'],
        run: (request, job) =>
          job.stage('sentiment', {}, (stage) =>
            new Promise((resolve, reject) => {
              const text = 'text' in request.input ? request.input.text : '';
              steps.set(text, {
                progress: () => stage.progress(0.5, 'half way'),
                finish: () => resolve({ value: { task: 'sentiment', label: 'positive', scores: { positive: 1 }, model: 'steered', models: 'test' } }),
                fail: () => reject(new CuratorError('bad_input', 'refused by the test')),
              });
            }),
          ),
      },
    },
  });
});

after(async () => {
  await runtime.close();
  await app.close();
  await queues.close();
  storage.close();
  await t.close();
});

const submit = async (text: string) => (await queues.submit([jobRequestSchema.parse({ type: 'classify', input: { text } })]))[0]!.id;
const step = async (text: string) => {
  for (;;) {
    const found = steps.get(text);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

interface Received {
  id: string | undefined;
  event: string;
  data: JobEvent;
}

/** Reads a stream's events as they come; `next()` resolves with the next one, `ended` when the server closes it. */
async function openStream(path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${url}${path}`, { headers, signal: controller.signal });
  const events: Received[] = [];
  const comments: string[] = [];
  let wake = null as (() => void) | null;
  let over = false;
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(':')) comments.push(block);
          const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field('data') !== undefined) events.push({ id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data')!) });
          wake?.();
        }
      }
    } catch {
      // Aborted by the test.
    } finally {
      over = true;
      wake?.();
    }
  })();
  let read = 0;
  const next = async (): Promise<Received> => {
    while (events.length <= read) {
      if (over) throw new Error('the stream ended');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return events[read++]!;
  };
  const nextComment = async (): Promise<string> => {
    while (comments.length === 0) {
      if (over) throw new Error('the stream ended');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return comments.shift()!;
  };
  return { res, events, comments, next, nextComment, ended, close: () => controller.abort() };
}

test('a job change is pushed to its stream as it happens; the stream ends with the final state', async () => {
  const id = await submit('pushed');
  const stream = await openStream(`/jobs/${id}/events`);
  assert.equal(stream.res.status, 200);
  assert.equal(stream.res.headers.get('content-type'), 'text/event-stream');
  const first = await stream.next();
  assert.equal(first.event, 'snapshot');
  assert.equal(first.data.job.id, id);

  (await step('pushed')).progress();
  let event = await stream.next();
  while (event.data.job.progress.detail !== 'half way') event = await stream.next();
  assert.equal(event.event, 'progress');
  assert.equal(event.data.job.status, 'running');

  (await step('pushed')).finish();
  let last = await stream.next();
  while (last.event === 'progress') last = await stream.next();
  assert.equal(last.event, 'completed');
  assert.equal(last.data.job.status, 'succeeded');
  assert.deepEqual(last.data.job.result, { task: 'sentiment', label: 'positive', scores: { positive: 1 }, model: 'steered', models: 'test' });
  await stream.ended;
  // Every event names the version of the job it carries.
  assert.ok(stream.events.every((e) => e.id && e.id.length > 10));
  assert.equal(new Set(stream.events.map((e) => e.id)).size, stream.events.length, 'each event is a new state');
});

test('a client that reconnects with Last-Event-ID gets what it missed, and always the final state', async () => {
  const id = await submit('resumed');
  const stream = await openStream(`/jobs/${id}/events`);
  const seen = await stream.next();
  stream.close();
  // While it is away the job moves on and ends (the worker records the failure after the stage throws).
  (await step('resumed')).fail();
  await waitFor(() => queues.get(id), (job) => job?.status === 'failed', 'the job failed');
  const again = await openStream(`/jobs/${id}/events`, { 'last-event-id': seen.id! });
  const final = await again.next();
  assert.equal(final.event, 'failed');
  assert.equal(final.data.job.error?.code, 'bad_input');
  await again.ended;
  assert.equal(again.events.length, 1);

  // Reconnecting with the final state's id: nothing new to say, and the stream ends at once.
  const done = await openStream(`/jobs/${id}/events`, { 'last-event-id': final.id! });
  await done.ended;
  assert.deepEqual(done.events, []);

  // A new client of a finished job gets its final state at once.
  const late = await openStream(`/jobs/${id}/events`);
  await late.ended;
  assert.deepEqual(late.events.map((e) => e.event), ['failed']);
});

test('a quiet stream carries heartbeat comments, and nothing reads the job while it does not change', async () => {
  const id = await submit('quiet');
  await step('quiet');
  const stream = await openStream(`/jobs/${id}/events`);
  await stream.next();
  // Count the job reads from here on: a stream is pushed, never polled.
  const get = queues.get.bind(queues);
  let reads = 0;
  queues.get = (jobId: string) => {
    if (jobId === id) reads++;
    return get(jobId);
  };
  try {
    for (let i = 0; i < 25; i++) assert.match(await stream.nextComment(), /^: ?heartbeat/);
    assert.equal(stream.events.length, 1, 'nothing changed, so no event');
    assert.equal(reads, 0, 'no reads without a change');
    (await step('quiet')).progress();
    await stream.next();
    assert.ok(reads >= 1, 'a change is read');
  } finally {
    queues.get = get;
    stream.close();
    (await step('quiet')).finish();
  }
});

test('unknown jobs answer 404 in the error body before any stream starts', async () => {
  const res = await fetch(`${url}/jobs/1b4e28ba-2fa1-41d2-883f-0e1e5e3a6c2d/events`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'job_not_found');
});
