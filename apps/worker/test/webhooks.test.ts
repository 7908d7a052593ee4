// Webhooks end to end: jobs run by a real worker on the generated test models, messages delivered to a
// receiving HTTP server on loopback, verified there with the client's helper.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadEnv, type Env } from '@curator/config';
import { JobQueues, queueSettingsFromEnv } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createMetrics, createLogger } from '@curator/telemetry';
import { parseOrThrow, jobRequestSchema, terminalStatuses, type StoredJobView, type WebhookPayload } from '@curator/contracts';
import { verifyWebhook, WebhookVerificationError } from '@curator/client';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { startWorker, type RunningWorker } from '../src/index.ts';

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestEnvironment;
let queues: JobQueues;
let storage: ObjectStorage;
let receiver: Server;
let port: number;
let origin: string;
const hits: Hit[] = [];
/** Per path, how the receiver answers its n-th request (0-based): a status, or held until released. */
const plans = new Map<string, (n: number) => number | 'hold'>();
const heldAnswers: Array<{ path: string; release(status: number): void }> = [];

before(async () => {
  t = await testEnvironment({
    roles: ['sentiment', 'genre', 'image'],
    vars: {
      FETCH_ALLOW_PRIVATE: 'true',
      WEBHOOK_SECRET: secret,
      WEBHOOK_ATTEMPTS: '3',
      WEBHOOK_RETRY_FIRST_DELAY_MS: '50',
      WEBHOOK_RETRY_WINDOW_SECONDS: '1',
      WEBHOOK_PROGRESS_INTERVAL_MS: '200',
    },
  });
  queues = new JobQueues({ settings: queueSettingsFromEnv(t.env), commandTimeoutMs: 5000, logger: createLogger('test', 'silent') });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  receiver = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      const n = hits.filter((hit) => hit.path === path).length;
      hits.push({ path, headers: request.headers, body });
      const planned = plans.get(path)?.(n) ?? 204;
      if (planned === 'hold') heldAnswers.push({ path, release: (status) => void response.writeHead(status).end() });
      else answer(response, planned);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

after(async () => {
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
  await queues.close();
  storage.close();
  await t.close();
});

function answer(response: ServerResponse, status: number): void {
  response.writeHead(status).end(status >= 400 ? 'no thanks' : '');
}

async function withWorker<T>(run: (worker: RunningWorker) => Promise<T>, env: Env = t.env): Promise<T> {
  const worker = await startWorker({ env, storage, metrics: createMetrics({ process: 'worker' }), logger: createLogger('test', 'silent'), jobTypes: ['classify', 'text-to-image'] });
  try {
    return await run(worker);
  } finally {
    await worker.close();
  }
}

const submit = async (request: unknown) => (await queues.submit([parseOrThrow(jobRequestSchema, request)]))[0]!.id;
const hitsAt = (path: string) => hits.filter((hit) => hit.path === path);
const verified = (hit: Hit): Promise<WebhookPayload> => verifyWebhook({ payload: hit.body, headers: hit.headers, secret });

/** The job once it is finished and none of its messages is still pending. */
const settled = (id: string) =>
  waitFor(
    () => queues.get(id),
    (view): view is StoredJobView => !!view && terminalStatuses.includes(view.status) && !!view.webhook && view.webhook.deliveries.length > 0 && view.webhook.deliveries.every((d) => d.status !== 'pending'),
    `job ${id} to finish and its webhook messages to settle`,
  );

test('start, progress and completed arrive in order, signed, and the job shows every delivery', async () => {
  await withWorker(async () => {
    const path = '/hooks/in-order';
    const id = await submit({
      type: 'text-to-image',
      input: { prompt: 'a lighthouse at dawn' },
      params: { width: 64, height: 64, steps: 12, seed: 7 },
      webhook: { url: `${origin}${path}`, events: ['start', 'progress', 'completed'] },
    });
    const view = await settled(id);
    assert.equal(view.status, 'succeeded', JSON.stringify(view.error));

    const received = hitsAt(path);
    const payloads = await Promise.all(received.map(verified));
    const types = payloads.map((p) => p.type);
    assert.equal(types[0], 'job.started');
    assert.equal(types.at(-1), 'job.completed');
    assert.ok(types.slice(1, -1).length >= 1 && types.slice(1, -1).every((type) => type === 'job.progress'), types.join(' '));
    assert.ok(payloads.every((p) => p.data.id === id));
    const ids = received.map((hit) => hit.headers['webhook-id']);
    assert.equal(new Set(ids).size, ids.length, 'every message has its own webhook-id');

    // The completed message carries the job as GET /jobs/:id shows it, with working presigned URLs.
    const done = payloads.at(-1)!.data;
    assert.equal(done.status, 'succeeded');
    assert.ok(done.type === 'text-to-image' && done.result);
    const image = await fetch(done.result.images[0]!.url);
    assert.equal(image.status, 200);
    assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

    // The job shows each message's latest attempt, in the order they were made.
    assert.equal(view.webhook?.url, `${origin}${path}`);
    const deliveries = view.webhook!.deliveries;
    assert.deepEqual(deliveries.map((d) => d.id), ids);
    assert.deepEqual(deliveries.map((d) => d.event), types.map((type) => ({ 'job.started': 'start', 'job.progress': 'progress', 'job.completed': 'completed' })[type]));
    assert.ok(deliveries.every((d) => d.status === 'delivered' && d.attempt === 1 && d.responseStatus === 204 && d.error === null));

    // What a receiver must refuse: a changed body, another secret, a replay after the window.
    const last = received.at(-1)!;
    const refused = (reason: string) => (error: unknown) => error instanceof WebhookVerificationError && error.reason === reason;
    await assert.rejects(verifyWebhook({ payload: last.body.replace('"succeeded"', '"failed"'), headers: last.headers, secret }), refused('invalid_signature'));
    await assert.rejects(verifyWebhook({ payload: last.body, headers: last.headers, secret: `whsec_${randomBytes(32).toString('base64')}` }), refused('invalid_signature'));
    await assert.rejects(verifyWebhook({ payload: last.body, headers: last.headers, secret, now: new Date(Date.now() + 10 * 60_000) }), refused('timestamp_too_old'));
  });
});

test('a message the receiver answers 500 is retried with the same id, and the job shows the attempts', async () => {
  await withWorker(async () => {
    const path = '/hooks/flaky';
    // First 500; the second attempt is held until the job has been read while the message waits.
    plans.set(path, (n) => (n === 0 ? 500 : 'hold'));
    const id = await submit({ type: 'classify', input: { text: 'The harbour reopened and everyone cheered.' }, webhook: { url: `${origin}${path}`, events: ['completed'] } });
    await waitFor(async () => heldAnswers.filter((held) => held.path === path).length, (held) => held === 1, 'the second attempt');
    const retrying = (await queues.get(id))!;
    assert.deepEqual(
      retrying.webhook?.deliveries.map((d) => ({ event: d.event, attempt: d.attempt, status: d.status, responseStatus: d.responseStatus, error: d.error })),
      [{ event: 'completed', attempt: 1, status: 'pending', responseStatus: 500, error: 'The receiver answered 500' }],
    );
    heldAnswers.find((held) => held.path === path)!.release(200);
    const view = await settled(id);
    assert.deepEqual(
      view.webhook?.deliveries.map((d) => ({ event: d.event, attempt: d.attempt, status: d.status, responseStatus: d.responseStatus, error: d.error })),
      [{ event: 'completed', attempt: 2, status: 'delivered', responseStatus: 200, error: null }],
    );
    const [first, second] = hitsAt(path);
    assert.equal(hitsAt(path).length, 2);
    assert.equal(first!.headers['webhook-id'], second!.headers['webhook-id'], 'a retry is the same message');
    assert.equal((await verified(first!)).data.status, 'succeeded');
    assert.equal((await verified(second!)).data.status, 'succeeded');
  });
});

test('a 410 is not retried, and stops the job\'s later messages', async () => {
  await withWorker(async () => {
    const path = '/hooks/gone';
    plans.set(path, () => 410);
    const id = await submit({ type: 'classify', input: { text: 'Nobody is listening any more.' }, webhook: { url: `${origin}${path}`, events: ['start', 'completed'] } });
    const view = await settled(id);
    assert.equal(view.status, 'succeeded');
    assert.equal(hitsAt(path).length, 1, 'one attempt, no retry, nothing after it');
    const [start, ...later] = view.webhook!.deliveries;
    assert.deepEqual({ event: start!.event, attempt: start!.attempt, status: start!.status, responseStatus: start!.responseStatus }, { event: 'start', attempt: 1, status: 'failed', responseStatus: 410 });
    // The completed message was either never made (the 410 came first) or made and not sent.
    for (const message of later) assert.deepEqual([message.event, message.status, message.responseStatus], ['completed', 'failed', null]);
  });
});

test('a job that expired or was canceled in the queue gets only job.completed', async () => {
  const expiredPath = '/hooks/expired';
  const canceledPath = '/hooks/canceled';
  const events = ['start', 'progress', 'completed'] as const;
  const expired = await submit({ type: 'classify', input: { text: 'Too late.' }, deadline: new Date(Date.now() - 1000).toISOString(), webhook: { url: `${origin}${expiredPath}`, events } });
  const canceled = await submit({ type: 'classify', input: { text: 'Never mind.' }, webhook: { url: `${origin}${canceledPath}`, events } });
  await queues.cancel(canceled);
  await withWorker(async () => {
    assert.equal((await settled(expired)).status, 'expired');
    assert.equal((await settled(canceled)).status, 'canceled');
  });
  for (const [path, status] of [[expiredPath, 'expired'], [canceledPath, 'canceled']] as const) {
    const payloads = await Promise.all(hitsAt(path).map(verified));
    assert.deepEqual(payloads.map((p) => [p.type, p.data.status]), [['job.completed', status]], path);
  }
});

test('progress messages are throttled: fewer than the steps, the newest state when sent', async () => {
  const env = loadEnv({ ...t.vars, WEBHOOK_PROGRESS_INTERVAL_MS: '60000' });
  await withWorker(async () => {
    const path = '/hooks/throttled';
    const steps = 30;
    const id = await submit({
      type: 'text-to-image',
      input: { prompt: 'a harbour at night' },
      params: { width: 64, height: 64, steps, seed: 3 },
      webhook: { url: `${origin}${path}`, events: ['progress', 'completed'] },
    });
    const view = await settled(id);
    assert.equal(view.status, 'succeeded');
    const payloads = await Promise.all(hitsAt(path).map(verified));
    const progress = payloads.filter((p) => p.type === 'job.progress');
    assert.ok(progress.length >= 1 && progress.length < steps, `${progress.length} progress messages for ${steps} steps`);
    assert.equal(payloads.at(-1)?.type, 'job.completed');
    assert.ok(!payloads.some((p) => p.type === 'job.started'), 'start was not asked for');
  }, env);
});

test('a blocked address is never connected to: the message fails at once, not retried', async () => {
  // Article fetch rules without the test allowance: loopback is private again (the port is allowed, so the address decides).
  const env = loadEnv({ ...t.vars, FETCH_ALLOW_PRIVATE: 'false', FETCH_ALLOWED_PORTS: `80,443,${port}` });
  await withWorker(async () => {
    const literal = await submit({ type: 'classify', input: { text: 'Blocked by its address.' }, webhook: { url: `http://127.0.0.1:${port}/hooks/blocked`, events: ['completed'] } });
    const byName = await submit({ type: 'classify', input: { text: 'Blocked by what its name resolves to.' }, webhook: { url: `http://localhost:${port}/hooks/blocked-name`, events: ['completed'] } });
    for (const id of [literal, byName]) {
      const view = await settled(id);
      assert.equal(view.status, 'succeeded');
      const [message] = view.webhook!.deliveries;
      assert.deepEqual([message!.status, message!.attempt, message!.responseStatus], ['failed', 1, null]);
      assert.match(message!.error ?? '', /blocked/);
    }
  }, env);
  assert.equal(hitsAt('/hooks/blocked').length + hitsAt('/hooks/blocked-name').length, 0, 'the receiver saw nothing');
});

test('a job without a webhook shows none', async () => {
  const id = await submit({ type: 'classify', input: { text: 'No one to tell.' } });
  const view = await queues.get(id);
  assert.equal(view?.webhook, null);
});
