import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadEnv } from '@curator/config';
import { JobQueues, queueSettingsFromEnv, jobLockKey } from '@curator/queue';
import { holdModelCalls } from '@curator/inference';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createMetrics, createLogger } from '@curator/telemetry';
import { parseOrThrow, jobRequestSchema, type StoredJobView } from '@curator/contracts';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { startWorker, type RunningWorker } from '../src/index.ts';

let t: TestEnvironment;
let queues: JobQueues;
let storage: ObjectStorage;
let server: Server;
let base: string;
let flakyCalls = 0;

const article = `<!doctype html><html lang="en"><head><title>Harbour reopens | Daily</title></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour reopens after storm</h1><p class="byline">By Ana Ruiz</p>
<p>The harbour reopened on Monday after a week of repairs, and fishermen returned to work at dawn.</p>
<p>Officials said the new sea wall held well during the last storm, and that shops along the quay will reopen too.</p>
<p>Residents welcomed the news, saying the closure had cost the town dearly over the busy season.</p></article>
<footer>Copyright Daily</footer></body></html>`;

before(async () => {
  t = await testEnvironment({ vars: { FETCH_ALLOW_PRIVATE: 'true', JOB_ATTEMPTS: '3' } });
  queues = new JobQueues({ settings: queueSettingsFromEnv(t.env), commandTimeoutMs: 5000, logger: createLogger('test', 'silent') });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  server = createServer((req, res) => {
    if (req.url?.startsWith('/article')) return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(article);
    if (req.url === '/flaky') {
      // Fails the first time: a transient error the job must retry past.
      flakyCalls++;
      if (flakyCalls === 1) return void res.writeHead(503).end('busy');
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end('A calm and pleasant day at the harbour.');
    }
    if (req.url === '/deep') return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${'<div>'.repeat(100)}<p>${'Deep text here. '.repeat(20)}</p>${'</div>'.repeat(100)}</body></html>`);
    if (req.url === '/gone') return void res.writeHead(404).end('gone');
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await queues.close();
  storage.close();
  await t.close();
});

async function withWorker<T>(run: (worker: RunningWorker) => Promise<T>, env = t.env): Promise<T> {
  const worker = await startWorker({ env, storage, metrics: createMetrics({ process: 'worker' }), logger: createLogger('test', 'silent') });
  try {
    return await run(worker);
  } finally {
    await worker.close();
  }
}

const submit = async (request: unknown) => (await queues.submit([parseOrThrow(jobRequestSchema, request)]))[0]!.id;
const finished = (id: string) => waitFor(() => queues.get(id), (v): v is StoredJobView => !!v && ['succeeded', 'failed', 'canceled'].includes(v.status), `job ${id} to finish`);

test('a classify job runs on a real model in the worker and reports stages and result', async () => {
  await withWorker(async (worker) => {
    const heartbeat = worker.heartbeat();
    assert.deepEqual(heartbeat.jobTypes.sort(), ['classify', 'curate', 'headline', 'summarize', 'text-to-image']);
    assert.equal(heartbeat.device, 'cpu');
    assert.deepEqual(heartbeat.models.map((m) => m.role).sort(), ['genre', 'headline', 'image', 'sentiment', 'summarizer']);
    assert.ok(heartbeat.models.every((m) => m.warmupMs !== null));
    assert.deepEqual((await queues.workers()).map((w) => w.id), [worker.id]);

    const sentimentId = await submit({ type: 'classify', input: { text: 'What a wonderful day, I love it! @friend https://example.com 😀' } });
    const genreId = await submit({ type: 'classify', input: { text: 'The striker scored twice as the club won the league.' }, params: { task: 'genre' } });
    const sentiment = await finished(sentimentId);
    const genre = await finished(genreId);

    assert.equal(sentiment.status, 'succeeded', JSON.stringify(sentiment.error));
    const result = sentiment.result as { task: string; label: string; scores: Record<string, number>; model: string; models: string };
    assert.equal(result.task, 'sentiment');
    assert.equal(result.models, 'test', 'output of the generated test models says so');
    assert.ok(['negative', 'neutral', 'positive'].includes(result.label));
    assert.deepEqual(Object.keys(result.scores).sort(), ['negative', 'neutral', 'positive']);
    assert.ok(Math.abs(Object.values(result.scores).reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.equal(result.label, Object.entries(result.scores).sort((a, b) => b[1] - a[1])[0]![0]);
    assert.deepEqual(sentiment.stages.map((s) => [s.name, s.status]), [['extract', 'succeeded'], ['sentiment', 'succeeded']]);
    const stage = sentiment.stages[1]!;
    assert.equal(stage.model, 'curator-test/sentiment');
    assert.equal(stage.input?.truncated, false);
    assert.ok(typeof stage.durationMs === 'number');
    assert.deepEqual(sentiment.progress, { percent: 100, stage: null });
    assert.deepEqual(sentiment.attempts, { made: 1, max: 3 });
    assert.ok(sentiment.startedAt && sentiment.finishedAt);

    assert.equal(genre.status, 'succeeded');
    assert.ok(['business', 'entertainment', 'politics', 'sport', 'tech'].includes((genre.result as { label: string }).label));
  });
});

test('a long article is truncated to the model window and the job says so', async () => {
  await withWorker(async () => {
    const id = await submit({ type: 'classify', input: { text: 'the harbour reopened today and people cheered. '.repeat(60) } });
    const view = await finished(id);
    assert.equal(view.status, 'succeeded');
    const input = view.stages.find((s) => s.name === 'sentiment')?.input;
    assert.equal(input?.truncated, true);
    assert.equal(input?.tokens, input?.limit);
    assert.ok((input?.originalTokens ?? 0) > (input?.limit ?? 0));
  });
});

test('a url job fetches and extracts the article first', async () => {
  await withWorker(async () => {
    const id = await submit({ type: 'classify', input: { url: `${base}/article` } });
    const view = await finished(id);
    assert.equal(view.status, 'succeeded', JSON.stringify(view.error));
    const extract = view.stages.find((s) => s.name === 'extract');
    assert.ok((extract?.metrics?.characters ?? 0) > 150);
  });
});

test("fetched articles are held to the deployment's limits: length, page shape", async () => {
  // The article page is about 400 characters of text; /deep nests 100 divs around its text.
  const strict = loadEnv({ ...t.vars, MAX_ARTICLE_CHARS: '150', EXTRACT_MAX_DEPTH: '64' });
  await withWorker(async () => {
    const long = await finished(await submit({ type: 'classify', input: { url: `${base}/article?long` } }));
    assert.equal(long.status, 'failed');
    assert.equal(long.error?.code, 'text_too_long', 'MAX_ARTICLE_CHARS holds for fetched articles too');
    assert.equal(long.attempts.made, 1);
  }, strict);
  const shallow = loadEnv({ ...t.vars, EXTRACT_MAX_DEPTH: '32' });
  await withWorker(async () => {
    const deep = await finished(await submit({ type: 'classify', input: { url: `${base}/deep` } }));
    assert.equal(deep.status, 'failed');
    assert.equal(deep.error?.code, 'extraction_budget_exceeded', 'EXTRACT_MAX_DEPTH is the worker\'s limit');
  }, shallow);
});

test('bad input fails at once with its code; a transient failure is retried and attempts show it', async () => {
  await withWorker(async () => {
    const gone = await finished(await submit({ type: 'classify', input: { url: `${base}/gone` } }));
    assert.equal(gone.status, 'failed');
    assert.equal(gone.error?.code, 'fetch_failed');
    assert.equal(gone.attempts.made, 1, 'a 404 is not retried');

    const flaky = await finished(await submit({ type: 'classify', input: { url: `${base}/flaky` } }));
    assert.equal(flaky.status, 'succeeded', JSON.stringify(flaky.error));
    assert.equal(flaky.attempts.made, 2);
  });
});

test('the same text is classified once: a second job reuses the cached stage', async () => {
  await withWorker(async () => {
    const text = `cache me ${Date.now()}`;
    const first = await finished(await submit({ type: 'classify', input: { text } }));
    const second = await finished(await submit({ type: 'classify', input: { text } }));
    assert.equal(first.stages[1]?.cached, false);
    assert.equal(second.stages[1]?.cached, true);
    assert.deepEqual(second.result, first.result);
  });
});

test('a job canceled while queued ends canceled when a worker takes it', async () => {
  const id = await submit({ type: 'classify', input: { text: 'never mind' } });
  await queues.cancel(id);
  await withWorker(async () => {
    const view = await finished(id);
    assert.equal(view.status, 'canceled');
    assert.equal(view.error?.code, 'canceled');
  });
});

test('a worker that is told to stop finishes its jobs in flight and none is lost', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push(await submit({ type: 'classify', input: { text: `job number ${i} of the shutdown test` } }));
  const worker = await startWorker({ env: t.env, storage, metrics: createMetrics({ process: 'worker' }), logger: createLogger('test', 'silent') });
  await waitFor(() => queues.get(ids[0]!), (v) => v?.status !== 'queued', 'the first job to start');
  await worker.close();
  // Whatever it did not finish is still queued, untouched, for the next worker.
  const views = await Promise.all(ids.map((id) => queues.get(id)));
  assert.ok(views.every((v) => v && (v.status === 'succeeded' || v.status === 'queued')), JSON.stringify(views.map((v) => v?.status)));
  await withWorker(async () => {
    const done = await Promise.all(ids.map(finished));
    assert.ok(done.every((v) => v.status === 'succeeded'));
    assert.ok(done.every((v) => v.attempts.made === 1), 'no job ran twice');
  });
});

test('a text-to-image job denoises on the image model and stores the pictures in S3', async () => {
  await withWorker(async () => {
    const id = await submit({ type: 'text-to-image', input: { prompt: 'a lighthouse at dawn' }, params: { width: 64, height: 64, steps: 4, seed: 42, numImages: 2 } });
    const view = await finished(id);
    assert.equal(view.status, 'succeeded', JSON.stringify(view.error));
    const result = view.result as { images: Array<{ key: string; contentType: string; width: number; height: number; bytes: number; seed: number }>; generation: { seed: number; scheduler: string; steps: number } };
    assert.equal(result.images.length, 2);
    assert.deepEqual(result.images.map((i) => i.seed), [42, 43]);
    assert.equal(result.generation.scheduler, 'pndm');
    assert.equal(result.generation.steps, 4);
    for (const image of result.images) {
      assert.ok(image.key.startsWith(`jobs/${id}/`));
      const bytes = await storage.get(image.key);
      assert.equal(bytes.length, image.bytes);
      assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
    }
    assert.notDeepEqual(await storage.get(result.images[0]!.key), await storage.get(result.images[1]!.key));
    assert.equal(view.stages[0]?.metrics?.steps, 4);
  });
});

// Small and unseeded (never served from the stage cache): tests hold it in inference as long as they need.
const smallImage = { type: 'text-to-image', input: { prompt: 'a long night at sea' }, params: { width: 64, height: 64, steps: 2 } };

test('while a model runs, the main loop renews the job lock: the job never stalls, however long the run', async () => {
  // A lock of 1 s, renewed every 0.5 s and checked for stalls every 0.5 s: it would expire many times
  // over while the test holds the job in inference, unless the loop renews it.
  const env = loadEnv({ ...t.vars, WORKER_LOCK_MS: '1000' });
  await withWorker(async () => {
    // Held from here on (the worker's models are loaded and warm): the job waits in inference until released.
    const hold = holdModelCalls();
    try {
      const id = await submit({ type: 'classify', input: { text: 'held in the middle of inference for as long as the test likes' } });
      await hold.reached();
      // Each renewal sets the lock's time to live back up.
      const lock = jobLockKey(t.env.QUEUE_PREFIX, 'text', id);
      let renewals = 0;
      let last = Infinity;
      await waitFor(
        async () => {
          const ttl = await t.redis.pttl(lock);
          if (ttl > last) renewals++;
          last = ttl;
          return renewals;
        },
        (n) => n >= 4,
        'the lock to be renewed four times',
      );
      const during = await queues.get(id);
      assert.equal(during?.status, 'running');
      assert.deepEqual(during?.attempts, { made: 1, max: 3 }, 'never seen as stalled');
      hold.release();
      const view = await finished(id);
      assert.equal(view.status, 'succeeded', JSON.stringify(view.error));
      assert.deepEqual(view.attempts, { made: 1, max: 3 });
    } finally {
      hold.release();
    }
  }, env);
});

test('canceling a running job stops its inference and marks it canceled', async () => {
  await withWorker(async () => {
    // Held in inference until the cancel has been asked for.
    const hold = holdModelCalls();
    try {
      const id = await submit(smallImage);
      await hold.reached();
      assert.equal((await queues.get(id))?.status, 'running');
      await queues.cancel(id);
      hold.release();
      const view = await finished(id);
      assert.equal(view.status, 'canceled');
      assert.equal(view.error?.code, 'canceled');
      assert.equal(view.attempts.made, 1, 'a canceled job is not retried');
    } finally {
      hold.release();
    }
  });
});

test('on shutdown a job that outlasts the grace period is handed back and finished by the next worker, once', async () => {
  const env = loadEnv({ ...t.vars, WORKER_SHUTDOWN_GRACE_MS: '200' });
  const first = await startWorker({ env, storage, metrics: createMetrics({ process: 'worker' }), logger: createLogger('test', 'silent') });
  // Held in inference for longer than the grace period: for as long as the first worker lives.
  const hold = holdModelCalls();
  let id: string;
  try {
    id = await submit(smallImage);
    await hold.reached();
    await first.close();
  } finally {
    hold.release();
  }
  const handedBack = await queues.get(id);
  assert.equal(handedBack?.status, 'queued');
  assert.equal(handedBack?.attempts.made, 0, 'handing back is not a failed attempt');
  await withWorker(async () => {
    const view = await finished(id);
    assert.equal(view.status, 'succeeded', JSON.stringify(view.error));
    assert.equal(view.attempts.made, 1);
  });
});

const story = 'The harbour reopened on Monday after a week of repairs. Fishermen returned at dawn, and the shops along the quay opened their doors again. Officials said the new sea wall held during the storm.';

test('summarize and headline jobs generate text with the T5 engines and report token figures', async () => {
  await withWorker(async () => {
    const summary = await finished(await submit({ type: 'summarize', input: { text: story } }));
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary.error));
    const result = summary.result as { text: string; tokens: number; model: string };
    assert.ok(result.text.length > 0);
    assert.ok(result.tokens > 0 && result.tokens <= 29, `${result.tokens} tokens within max length 30`);
    assert.equal(result.model, 'curator-test/summarizer');
    const stage = summary.stages.find((s) => s.name === 'summarize')!;
    assert.equal(stage.metrics?.tokens, result.tokens);
    assert.ok((stage.metrics?.tokensPerSecond ?? 0) > 0);
    assert.ok(stage.input && stage.input.limit === 512);

    const headline = await finished(await submit({ type: 'headline', input: { text: story }, params: { maxTokens: 12, numBeams: 3, numReturnSequences: 2 } }));
    assert.equal(headline.status, 'succeeded', JSON.stringify(headline.error));
    const h = headline.result as { text: string; tokens: number; sequences: Array<{ text: string; score: number }> };
    assert.ok(h.tokens <= 12);
    assert.equal(h.sequences.length, 2);
    assert.ok(h.sequences[0]!.score >= h.sequences[1]!.score);
    assert.equal(headline.stages.find((s) => s.name === 'headline')?.input?.limit, 384);
  });
});

test('a curate job makes the whole card: text stages in the text pool, image and card in the image pool', async () => {
  await withWorker(async () => {
    const request = { type: 'curate', input: { text: story, title: 'Harbour reopens' }, params: { seed: 11, image: { width: 64, height: 64, steps: 4 } } };
    const first = await finished(await submit(request));
    assert.equal(first.status, 'succeeded', JSON.stringify(first.error));
    const result = first.result as { title: string; summary: string; headline: string; cardText: string; models: string; analysis: { task: string; label: string }; image: { image: { key: string; width: number }; card: { key: string; width: number; height: number }; generation: { prompt: string; seed: number } } };
    assert.equal(result.title, 'Harbour reopens');
    assert.equal(result.cardText, result.headline, 'the card shows the headline by default');
    assert.equal(result.models, 'test');
    assert.ok(result.summary.length > 0 && result.headline.length > 0);
    assert.equal(result.analysis.task, 'sentiment');
    assert.equal(result.image.generation.prompt, `Impressionist image - ${result.summary}`);
    assert.equal(result.image.generation.seed, 11);
    assert.ok(result.image.image.key.startsWith(`jobs/${first.id}/`));
    assert.equal(result.image.card.key, `jobs/${first.id}/card.png`);
    assert.equal(result.image.card.width, 64);
    assert.ok(result.image.card.height > 64, 'the band sits above the picture');
    assert.ok(await storage.exists(result.image.card.key));
    assert.deepEqual(first.stages.map((s) => [s.name, s.status]), [
      ['extract', 'succeeded'], ['sentiment', 'succeeded'], ['summarize', 'succeeded'], ['headline', 'succeeded'], ['image', 'succeeded'], ['card', 'succeeded'],
    ]);
    assert.equal(first.attempts.made, 1);

    // The same article with a new prefix: only the image and the card are computed again.
    const again = await finished(await submit({ ...request, params: { ...request.params, imagePrefix: 'Watercolour - ' } }));
    assert.equal(again.status, 'succeeded', JSON.stringify(again.error));
    const cached = Object.fromEntries(again.stages.map((s) => [s.name, s.cached]));
    assert.deepEqual(cached, { extract: true, sentiment: true, summarize: true, headline: true, image: false, card: false });
    assert.equal((again.result as typeof result).summary, result.summary);
    assert.equal((again.result as typeof result).image.generation.prompt, `Watercolour - ${result.summary}`);
  });
});

test('canceling a curate job while its image stages run in the image pool ends it canceled', async () => {
  await withWorker(async () => {
    const id = await submit({ type: 'curate', input: { text: story }, params: { image: { width: 512, height: 512, steps: 60 } } });
    // The curate job shows its child's live image stage while it waits for it.
    const waiting = await waitFor(() => queues.get(id), (v) => v?.status === 'running' && v.progress.stage === 'image' && (v.stages.find((s) => s.name === 'image')?.status === 'running') && v.progress.percent > 4 * (100 / 6), 'the image stages to start');
    assert.deepEqual(waiting!.stages.slice(0, 4).map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    await queues.cancel(id);
    const view = await finished(id);
    assert.equal(view.status, 'canceled', JSON.stringify(view.error));
    assert.equal(view.error?.code, 'canceled');
  });
});

test('a curate job can put the article title on its card; a URL article takes a title given with it', async () => {
  await withWorker(async () => {
    const title = 'Ωμέγα: the harbour reopens 🎉';
    const view = await finished(await submit({ type: 'curate', input: { url: `${base}/article`, title }, params: { cardText: 'title', seed: 5, image: { width: 64, height: 64, steps: 2 } } }));
    assert.equal(view.status, 'succeeded', JSON.stringify(view.error));
    const result = view.result as { title: string; cardText: string; headline: string };
    assert.equal(result.title, title);
    assert.equal(result.cardText, title);
    assert.equal(view.stages.find((s) => s.name === 'card')?.status, 'succeeded');
  });
});
