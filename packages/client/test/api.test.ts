// The client's calls of the API issue against the real system (gateway and worker processes on the
// generated test models, Redis, S3): listing, Prefer: wait, Idempotency-Key (and the retry of a
// submit whose answer was lost), Cancel-After, rerun, retry, feedback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CuratorClient, CuratorApiError, isFinished, isJobView, newIdempotencyKey, type JobRequestInput, type JobView } from '../src/index.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

let system: RunningSystem;
let client: CuratorClient;

before(async () => {
  system = await startSystem();
  client = new CuratorClient({ baseUrl: system.url });
});
after(async () => {
  await system?.close();
});

const article = 'Fishermen returned to the harbour at dawn as repairs ended. Shops on the quay reopened and the ferry ran again.';
const smallCard = (seed: number): JobRequestInput => ({ type: 'curate', input: { text: article, title: 'Harbour reopens' }, params: { seed, image: { width: 64, height: 64, steps: 2 } } });
const slowCard = (seed: number): JobRequestInput => ({ type: 'curate', input: { text: `${article} (${seed})` }, params: { seed, image: { width: 256, height: 256, steps: 150 } } });
const classify = (text: string): JobRequestInput => ({ type: 'classify', input: { text } });

async function rejection(promise: Promise<unknown>): Promise<CuratorApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CuratorApiError, `a CuratorApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

test("list: the caller's jobs newest first, a page at a time; listPages and listAll follow the cursor; filters", async () => {
  const accepted = await client.submitBatch(Array.from({ length: 5 }, (_, i) => classify(`Listed job ${i}.`)));
  await Promise.all(accepted.map(({ id }) => client.wait(id)));
  const ids = accepted.map(({ id }) => id);

  const first = await client.list({ type: 'classify', limit: 2 });
  assert.equal(first.jobs.length, 2);
  assert.ok(first.nextCursor, 'a cursor to the next page');
  const pages: JobView[][] = [];
  for await (const page of client.listPages({ type: 'classify', limit: 2 })) pages.push(page.jobs);
  const listed = pages.flat();
  assert.ok(pages.every((jobs) => jobs.length <= 2));
  assert.equal(new Set(listed.map((job) => job.id)).size, listed.length, 'no job twice across pages');
  assert.ok(ids.every((id) => listed.some((job) => job.id === id)), 'every job, across pages');
  const created = listed.map((job) => Date.parse(job.createdAt));
  assert.deepEqual(created, [...created].sort((a, b) => b - a), 'newest first');
  const all: JobView[] = [];
  for await (const job of client.listAll({ type: 'classify', status: 'succeeded', createdAfter: new Date(Date.now() - 3_600_000) })) all.push(job);
  assert.ok(ids.every((id) => all.some((job) => job.id === id)));
  assert.ok(all.every((job) => job.type === 'classify' && job.status === 'succeeded'));
  assert.deepEqual((await client.list({ type: 'text-to-image' })).jobs, []);
  const invalid = await rejection(client.list({ limit: 1000 }));
  assert.equal(invalid.code, 'validation_failed');
});

test('submit with wait (Prefer: wait): a quick job comes back finished; a long one is accepted as usual; run() ends either way', async () => {
  const quick = await client.submit(classify('I love this!'), { wait: 60 });
  assert.ok(isJobView(quick), 'the finished job, not the acceptance');
  assert.equal(quick.status, 'succeeded');
  const slow = await client.submit(slowCard(21), { wait: 1 });
  assert.ok(!isJobView(slow));
  assert.equal(slow.status, 'queued');
  await client.cancel(slow.id);
  const ran = await client.run(smallCard(22), { wait: 1 });
  assert.ok(isFinished(ran));
  assert.equal(ran.status, 'succeeded', JSON.stringify(ran.error));
});

test('Idempotency-Key: the same key and body give back the same job; the same key with another body is idempotency_conflict', async () => {
  const idempotencyKey = newIdempotencyKey();
  const a = await client.submit(classify('Once only.'), { idempotencyKey });
  const b = await client.submit(classify('Once only.'), { idempotencyKey });
  assert.equal(b.id, a.id);
  const conflict = await rejection(client.submit(classify('Something else.'), { idempotencyKey }));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.code, 'idempotency_conflict');
  // Keys are not shared by default: two submits of one body are two jobs.
  const [c, d] = await Promise.all([client.submit(classify('Twice.')), client.submit(classify('Twice.'))]);
  assert.notEqual(c.id, d.id);
});

/** A TCP relay in front of the gateway that loses the answer to the first request it carries (after the gateway acted on it). */
async function answerLosingRelay(target: URL): Promise<{ url: string; requests: string[]; lostAnswer: () => string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  let lost = '';
  let connections = 0;
  const server: Server = createServer((inbound) => {
    const losing = connections++ === 0;
    const outbound = connect(Number(target.port), target.hostname);
    sockets.add(inbound).add(outbound);
    inbound.on('data', (chunk: Buffer) => requests.push(chunk.toString('latin1')));
    inbound.pipe(outbound);
    if (losing) {
      outbound.on('data', (chunk: Buffer) => {
        lost += chunk.toString('latin1');
        // The whole answer came (headers and JSON body): the client never sees it.
        if (/\r\n\r\n[\s\S]*\}$/.test(lost)) inbound.destroy();
      });
    } else outbound.pipe(inbound);
    for (const socket of [inbound, outbound]) socket.once('error', () => undefined).once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    lostAnswer: () => lost,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test('a submit whose answer is lost is sent again with the same Idempotency-Key and gets the first job back, not a second one', async () => {
  const relay = await answerLosingRelay(new URL(system.url));
  try {
    const viaRelay = new CuratorClient({ baseUrl: relay.url, retry: { baseDelayMs: 50 } });
    const accepted = await viaRelay.submit(classify('Sent twice, made once.'));
    const posts = relay.requests.filter((head) => head.startsWith('POST /jobs '));
    assert.equal(posts.length, 2, 'sent again after the lost answer');
    const keys = posts.map((head) => /\r\nidempotency-key: ([^\r]+)\r\n/i.exec(head)?.[1]);
    assert.ok(keys[0], 'with an Idempotency-Key');
    assert.equal(keys[1], keys[0], 'the same key both times');
    const firstId = /"id":"([0-9a-f-]{36})"/.exec(relay.lostAnswer())?.[1];
    assert.match(relay.lostAnswer(), /^HTTP\/1\.1 202 /, 'the gateway accepted the first one');
    assert.equal(accepted.id, firstId, 'the retry answered with the job the lost answer named');
  } finally {
    await relay.close();
  }
});

test('Cancel-After sets the deadline of the job', async () => {
  const before = Date.now();
  const accepted = await client.submit(classify('With a deadline.'), { cancelAfterSeconds: 600 });
  const job = await client.get(accepted.id);
  const deadline = Date.parse(job.deadline ?? '');
  assert.ok(deadline >= before + 600_000 - 1000 && deadline <= Date.now() + 600_000 + 1000, `deadline ${job.deadline}`);
});

test('rerun: the overrides over the original params, the unchanged stages reused; analysis genre swaps the step', async () => {
  const original = await client.wait((await client.submit(smallCard(31))).id);
  assert.equal(original.status, 'succeeded', JSON.stringify(original.error));
  const rerun = await client.rerun(original.id, { params: { imagePrefix: 'Watercolour sketch - ' } });
  assert.equal(rerun.rerunOf, original.id);
  assert.equal(rerun.status, 'queued');
  for (const stage of ['sentiment', 'summarize', 'headline']) assert.ok(rerun.reusedStages.includes(stage), `${stage} reused`);
  assert.ok(!rerun.reusedStages.includes('image'));
  const done = await client.wait(rerun.id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.rerunOf, original.id);
  assert.ok(done.stages.filter((stage) => rerun.reusedStages.includes(stage.name)).every((stage) => stage.cached));

  const genre = await client.rerun(original.id, { params: { analysis: 'genre' } });
  assert.ok(!genre.reusedStages.includes('genre'));
  const swapped = await client.wait(genre.id);
  assert.ok(swapped.type === 'curate' && swapped.result?.analysis.task === 'genre');
  assert.deepEqual(swapped.stages.map((stage) => stage.name), ['extract', 'genre', 'summarize', 'headline', 'image', 'card']);

  const unknown = await rejection(client.rerun('00000000-0000-4000-8000-000000000000', {}));
  assert.equal(unknown.code, 'job_not_found');
});

test('retry: a failed job runs again under its id, its earlier run kept in history; a succeeded one is job_not_retryable', async () => {
  const failed = await client.wait((await client.submit({ type: 'curate', input: { url: 'http://127.0.0.1:9/news' } })).id);
  assert.equal(failed.status, 'failed');
  const again = await client.retry(failed.id);
  assert.equal(again.id, failed.id);
  const second = await client.wait(failed.id);
  assert.equal(second.status, 'failed');
  assert.equal(second.history.length, 1);
  assert.equal(second.history[0]!.status, 'failed');
  assert.equal(second.history[0]!.error?.code, 'fetch_blocked');

  const succeeded = await client.wait((await client.submit(classify('Fine as it is.'))).id);
  const refused = await rejection(client.retry(succeeded.id));
  assert.equal(refused.status, 409);
  assert.equal(refused.code, 'job_not_retryable');
});

test('feedback: a rating of the job (or one of its fields) is stored and answered back', async () => {
  const job = await client.wait((await client.submit(classify('Rate me.'))).id);
  const feedback = await client.feedback(job.id, { rating: 4, field: 'overall', comment: 'Right label.' });
  assert.equal(feedback.jobId, job.id);
  assert.equal(feedback.jobType, 'classify');
  assert.equal(feedback.rating, 4);
  assert.equal(feedback.comment, 'Right label.');
  const plain = await client.feedback(job.id, { rating: 2 });
  assert.equal(plain.field, 'overall');
  const invalid = await rejection(client.feedback(job.id, { rating: 9 }));
  assert.equal(invalid.code, 'validation_failed');
  assert.equal(invalid.details[0]?.path, 'rating');
});
