// A job's life end to end on the real parts: the gateway over HTTP, a real worker on the generated
// models, Redis, S3. Reruns reuse what did not change (through the worker's own stage cache),
// Prefer: wait hands back the finished card, a deadline that passed ends a job expired.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildGateway, createJobQueues, type Gateway } from '@curator/gateway';
import { startWorker, type RunningWorker } from '@curator/worker';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';

let t: TestEnvironment;
let app: Gateway;
let url: string;
let queues: JobQueues;
let storage: ObjectStorage;
let worker: RunningWorker;
let articles: Server;
let articleBase: string;
let articleFetches = 0;

const story = 'The harbour reopened on Monday after a week of repairs. Fishermen returned at dawn, and the shops along the quay opened their doors again. Officials said the new sea wall held during the storm.';

before(async () => {
  t = await testEnvironment({ vars: { FETCH_ALLOW_PRIVATE: 'true' } });
  const logger = createLogger('test', 'silent');
  queues = createJobQueues(t.env, logger);
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  app = await buildGateway({ env: t.env, queues, storage, metrics: createMetrics({ process: 'gateway' }), logger });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  worker = await startWorker({ env: t.env, storage, metrics: createMetrics({ process: 'worker' }), logger });
  articles = createServer((_req, res) => {
    articleFetches++;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><head><title>Harbour</title></head><body><article><h1>Harbour reopens</h1><p>${story}</p><p>${story}</p></article></body></html>`);
  });
  await new Promise<void>((resolve) => articles.listen(0, '127.0.0.1', resolve));
  articleBase = `http://127.0.0.1:${(articles.address() as AddressInfo).port}`;
});

after(async () => {
  articles.close();
  await worker.close();
  await app.close();
  await queues.close();
  storage.close();
  await t.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}${path}`, { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

const final = (id: string) => waitFor(() => call('GET', `/jobs/${id}`), (a) => ['succeeded', 'failed', 'canceled', 'expired'].includes(a.body?.status), `job ${id} to end`, 300_000).then((a) => a.body);
const cachedStages = (view: any) => view.stages.filter((s: any) => s.cached).map((s: any) => s.name);

test('a rerun with a new image prefix reuses the text stages from the cache; with analysis: genre it swaps the classification and reuses the picture', async () => {
  const submitted = await call('POST', '/jobs', { type: 'curate', input: { text: story, title: 'Harbour reopens' }, params: { seed: 21, image: { width: 64, height: 64, steps: 2 } } });
  assert.equal(submitted.status, 202);
  const original = await final(submitted.body.id);
  assert.equal(original.status, 'succeeded', JSON.stringify(original.error));

  const prefix = await call('POST', `/jobs/${original.id}/rerun`, { params: { imagePrefix: 'Watercolour - ' } });
  assert.equal(prefix.status, 202, JSON.stringify(prefix.body));
  assert.deepEqual(prefix.body.reusedStages, ['extract', 'sentiment', 'summarize', 'headline']);
  const repainted = await final(prefix.body.id);
  assert.equal(repainted.status, 'succeeded', JSON.stringify(repainted.error));
  assert.equal(repainted.rerunOf, original.id);
  assert.deepEqual(cachedStages(repainted), prefix.body.reusedStages, 'the worker reused exactly what the gateway said it would');
  assert.equal(repainted.result.summary, original.result.summary);
  assert.equal(repainted.result.image.generation.prompt, `Watercolour - ${original.result.summary}`);
  assert.ok(repainted.result.image.image.key.startsWith(`jobs/${repainted.id}/`), 'a new picture of its own');

  const genre = await call('POST', `/jobs/${original.id}/rerun`, { params: { analysis: 'genre' } });
  assert.equal(genre.status, 202, JSON.stringify(genre.body));
  assert.deepEqual(genre.body.reusedStages, ['extract', 'summarize', 'headline', 'image', 'card']);
  const reclassified = await final(genre.body.id);
  assert.equal(reclassified.status, 'succeeded', JSON.stringify(reclassified.error));
  assert.deepEqual(reclassified.stages.map((s: any) => s.name), ['extract', 'genre', 'summarize', 'headline', 'image', 'card']);
  assert.deepEqual(cachedStages(reclassified), genre.body.reusedStages);
  assert.equal(reclassified.result.analysis.task, 'genre');
  assert.equal(reclassified.result.image.image.key, original.result.image.image.key, 'the same picture, reused');
  const card = await fetch(reclassified.result.image.cardUrl);
  assert.equal(card.status, 200);
  assert.equal(card.headers.get('content-type'), 'image/png');
});

test('an article fetched from a URL is extracted once: a rerun reads it from the cache instead of fetching it again', async () => {
  const first = await final((await call('POST', '/jobs', { type: 'classify', input: { url: `${articleBase}/harbour` } })).body.id);
  assert.equal(first.status, 'succeeded', JSON.stringify(first.error));
  const fetches = articleFetches;
  const rerun = await call('POST', `/jobs/${first.id}/rerun`, { params: { task: 'genre' } });
  assert.deepEqual(rerun.body.reusedStages, ['extract']);
  const second = await final(rerun.body.id);
  assert.equal(second.status, 'succeeded', JSON.stringify(second.error));
  assert.deepEqual(cachedStages(second), ['extract']);
  assert.equal(articleFetches, fetches, 'no second fetch');
  assert.equal(second.result.task, 'genre');
});

test('Prefer: wait answers 200 with the finished card, its pictures presigned', async () => {
  const answer = await call('POST', '/jobs', { type: 'curate', input: { text: `${story} Waiting for it.` }, params: { seed: 3, image: { width: 64, height: 64, steps: 2 } } }, { prefer: 'wait=60' });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.headers.get('preference-applied'), 'wait=60');
  assert.equal(answer.body.status, 'succeeded');
  assert.ok(answer.body.queueWaitMs >= 0 && answer.body.runMs >= 0);
  const picture = await fetch(answer.body.result.image.url);
  assert.equal(picture.status, 200);
});

test('a job whose deadline has passed when the worker takes it ends expired without running', async () => {
  const answer = await call('POST', '/jobs', { type: 'summarize', input: { text: story }, deadline: new Date(Date.now() - 1000).toISOString() });
  assert.equal(answer.status, 202);
  const view = await final(answer.body.id);
  assert.equal(view.status, 'expired');
  assert.equal(view.error.code, 'deadline_exceeded');
  assert.ok(view.stages.every((s: any) => s.status === 'pending'), 'no stage ran');
  const retried = await call('POST', `/jobs/${view.id}/retry`);
  assert.equal(retried.status, 202);
  const ran = await final(view.id);
  assert.equal(ran.status, 'succeeded', JSON.stringify(ran.error));
  assert.deepEqual(ran.history.map((h: any) => h.status), ['expired']);
});
