// The webhook queue on real Redis and BullMQ: how messages are made from reported events (whichever
// processes report them), in what order they go, and what each message's record shows. Sending itself
// (signing, HTTP) is @curator/webhooks', tested end to end in apps/worker/test/webhooks.test.ts; here
// `send` is the seam the worker plugs it into, answering as a receiver would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { jobRequestSchema, type WebhookEvent } from '@curator/contracts';
import { JobQueues, WebhookOutbox, jobWebhook, startWebhookDelivery, type DeliveryResult, type QueueSettings, type WebhookMessage } from '../src/index.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
let settings: QueueSettings;
let queues: JobQueues;
let redis: Redis;
const outboxes: WebhookOutbox[] = [];

before(() => {
  settings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 2, backoffMs: 10, ttlSeconds: 600 };
  queues = new JobQueues({ settings, commandTimeoutMs: 5000, logger: silent });
  redis = new Redis(redisUrl);
});

after(async () => {
  for (const outbox of outboxes) await outbox.close();
  await queues.close();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${settings.prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
  redis.disconnect();
});

function outbox(attempts = 3): WebhookOutbox {
  const made = new WebhookOutbox({ settings, progressIntervalMs: 60_000, attempts, logger: silent });
  outboxes.push(made);
  return made;
}

const submit = async (events: WebhookEvent[]) =>
  (await queues.submit([jobRequestSchema.parse({ type: 'classify', input: { text: 'The harbour reopened.' }, webhook: { url: 'https://hooks.example.com/curator', events } })]))[0]!.id;

const deliveries = async (id: string) => (await jobWebhook(redis, settings.prefix, id, { webhook: { url: 'x', events: [] } }))!.deliveries;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Runs a delivery consumer whose receiver answers with `answer(message, attempt)`; records what it was sent. */
async function withDelivery<T>(answer: (message: WebhookMessage, attempt: number) => DeliveryResult, run: (sent: Array<{ message: WebhookMessage; attempt: number }>, retries: Array<[number, number | null]>) => Promise<T>, attempts = 3): Promise<T> {
  const sent: Array<{ message: WebhookMessage; attempt: number }> = [];
  const retries: Array<[number, number | null]> = [];
  const delivery = await startWebhookDelivery({
    settings,
    concurrency: 4,
    attempts,
    retryDelayMs: (retry, retryAfterMs) => (retries.push([retry, retryAfterMs]), 20),
    send: async (message) => {
      const attempt = sent.filter((s) => s.message.id === message.id).length + 1;
      sent.push({ message, attempt });
      return answer(message, attempt);
    },
    logger: silent,
  });
  try {
    return await run(sent, retries);
  } finally {
    await delivery.close();
  }
}

test('events reported by several processes make one message each, sent in order', async () => {
  const id = await submit(['start', 'progress', 'completed']);
  const [a, b] = [outbox(), outbox()];
  a.jobStarted(id);
  b.jobStarted(id);
  a.jobProgressed(id);
  b.jobProgressed(id);
  a.jobProgressed(id);
  await until(() => deliveries(id), (d) => d.length === 2, 'start and one progress message');
  await Promise.all([a.jobFinished(id), b.jobFinished(id)]);
  await withDelivery(
    () => ({ outcome: 'delivered', responseStatus: 204 }),
    async (sent) => {
      const records = await until(() => deliveries(id), (d) => d.length === 3 && d.every((r) => r.status === 'delivered'), 'three deliveries');
      assert.deepEqual(sent.map((s) => s.message.event), ['start', 'progress', 'completed']);
      assert.deepEqual(sent.map((s) => s.message.type), ['job.started', 'job.progress', 'job.completed']);
      assert.deepEqual(records.map((r) => r.id), sent.map((s) => s.message.id));
      assert.equal(new Set(records.map((r) => r.id)).size, 3);
      assert.ok(records.every((r) => r.attempt === 1 && r.responseStatus === 204 && r.error === null));
      assert.ok(sent.every((s) => s.message.jobId === id && s.message.url === 'https://hooks.example.com/curator' && s.message.owner === null));
    },
  );
});

test('a job\'s next message waits until the one before is delivered; a retry keeps its id and honours Retry-After', async () => {
  const id = await submit(['start', 'completed']);
  const reporter = outbox();
  reporter.jobStarted(id);
  reporter.jobProgressed(id);
  await reporter.jobFinished(id);
  await withDelivery(
    (message, attempt) => (message.event === 'start' && attempt === 1 ? { outcome: 'retry', responseStatus: 503, error: 'The receiver answered 503', retryAfterMs: 1500 } : { outcome: 'delivered', responseStatus: 200 }),
    async (sent, retries) => {
      const records = await until(() => deliveries(id), (d) => d.length === 2 && d.every((r) => r.status === 'delivered'), 'both delivered');
      assert.deepEqual(sent.map((s) => [s.message.event, s.attempt]), [['start', 1], ['start', 2], ['completed', 1]]);
      assert.equal(sent[0]!.message.id, sent[1]!.message.id);
      assert.deepEqual(retries, [[1, 1500]]);
      assert.deepEqual(records.map((r) => [r.event, r.attempt, r.status, r.responseStatus]), [['start', 2, 'delivered', 200], ['completed', 1, 'delivered', 200]]);
    },
  );
});

test('a 410 stops the job\'s later messages; a message failing on its last attempt is given up and the next goes', async () => {
  const gone = await submit(['start', 'completed']);
  const failing = await submit(['start', 'completed']);
  const reporter = outbox(2);
  for (const id of [gone, failing]) {
    reporter.jobStarted(id);
    reporter.jobProgressed(id);
  }
  await until(async () => (await deliveries(gone)).length + (await deliveries(failing)).length, (n) => n === 2, 'both start messages');
  await withDelivery(
    (message): DeliveryResult =>
      message.jobId === gone
        ? { outcome: 'give-up', responseStatus: 410, error: 'The receiver answered 410 Gone', gone: true }
        : message.event === 'start'
          ? { outcome: 'retry', responseStatus: 500, error: 'The receiver answered 500', retryAfterMs: null }
          : { outcome: 'delivered', responseStatus: 204 },
    async (sent) => {
      await until(() => deliveries(gone), (d) => d[0]?.status === 'failed', 'the 410');
      // Reported after the 410: booked, never made.
      await Promise.all([reporter.jobFinished(gone), reporter.jobFinished(failing)]);
      const afterGone = await deliveries(gone);
      assert.deepEqual(afterGone.map((r) => [r.event, r.status, r.responseStatus]), [['start', 'failed', 410]]);
      const records = await until(() => deliveries(failing), (d) => d.length === 2 && d.every((r) => r.status !== 'pending'), 'the failing job settled');
      assert.deepEqual(records.map((r) => [r.event, r.attempt, r.status, r.responseStatus]), [['start', 2, 'failed', 500], ['completed', 1, 'delivered', 204]]);
      assert.match(records[0]!.error ?? '', /given up after 2 attempts/);
      assert.deepEqual(sent.filter((s) => s.message.jobId === gone).map((s) => s.message.event), ['start']);
    },
    2,
  );
});

test('a message already queued behind a 410 is recorded as not sent', async () => {
  const id = await submit(['start', 'completed']);
  const reporter = outbox();
  reporter.jobStarted(id);
  reporter.jobProgressed(id);
  await reporter.jobFinished(id);
  await withDelivery(
    (): DeliveryResult => ({ outcome: 'give-up', responseStatus: 410, error: 'The receiver answered 410 Gone', gone: true }),
    async (sent) => {
      const records = await until(() => deliveries(id), (d) => d.length === 2 && d.every((r) => r.status !== 'pending'), 'both settled');
      assert.deepEqual(records.map((r) => [r.event, r.status, r.responseStatus]), [['start', 'failed', 410], ['completed', 'failed', null]]);
      assert.match(records[1]!.error ?? '', /410 Gone to an earlier message/);
      assert.deepEqual(sent.map((s) => s.message.event), ['start']);
    },
  );
});

test('events a job did not ask for make no message; a job without a webhook has none', async () => {
  const id = await submit(['completed']);
  const reporter = outbox();
  reporter.jobStarted(id);
  reporter.jobProgressed(id);
  await reporter.jobFinished(id);
  assert.deepEqual((await deliveries(id)).map((r) => r.event), ['completed']);
  assert.equal(await jobWebhook(redis, settings.prefix, id, {}), null);
});
