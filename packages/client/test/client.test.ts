// The client against the real system: gateway, worker on the generated test models, Redis, S3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CuratorClient, CuratorApiError, isFinished, type JobRequestInput, type JobStreamEvent } from '../src/index.ts';
import { startSystem, withApiKey, type RunningSystem } from './support/system.ts';

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
/** A whole card, small enough to run quickly on the test models. */
const smallCard = (seed: number): JobRequestInput => ({
  type: 'curate',
  input: { text: article, title: 'Harbour reopens' },
  params: { seed, image: { width: 64, height: 64, steps: 2 } },
});
/** A card whose picture takes many denoising steps, so the job is still running when the test acts. */
const slowCard = (seed: number): JobRequestInput => ({
  type: 'curate',
  input: { text: `${article} (${seed})` },
  params: { seed, image: { width: 256, height: 256, steps: 150 } },
});

async function rejection(promise: Promise<unknown>): Promise<CuratorApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CuratorApiError, `a CuratorApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

test('submit and wait (via events): the whole card, typed and parsed by the contracts', async () => {
  const accepted = await client.submit(smallCard(3));
  assert.equal(accepted.status, 'queued');
  assert.equal(accepted.type, 'curate');
  const seen: string[] = [];
  const job = await client.wait(accepted.id, { onUpdate: (update) => seen.push(update.status) });
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.ok(seen.length >= 1);
  assert.equal(seen.at(-1), 'succeeded');
  assert.equal(job.type, 'curate');
  if (job.type !== 'curate' || !job.result) return assert.fail('a curate result');
  assert.equal(job.result.models, 'test');
  assert.match(job.result.image.cardUrl, /X-Amz-Signature=/);
  assert.deepEqual(
    job.stages.map((stage) => [stage.name, stage.status]),
    ['extract', 'sentiment', 'summarize', 'headline', 'image', 'card'].map((name) => [name, 'succeeded']),
  );
  assert.deepEqual(await client.get(accepted.id).then((again) => again.status), 'succeeded');
});

test('events: a snapshot first, the final state last; resuming after an event sends only what changed since', async () => {
  const { id } = await client.submit(smallCard(4));
  const events: JobStreamEvent[] = [];
  for await (const event of client.events(id)) events.push(event);
  assert.equal(events[0]!.event, 'snapshot');
  assert.equal(events.at(-1)!.event, 'completed');
  assert.ok(events.every((event) => event.id), 'every event carries an id');

  const [first, last] = [events[0]!, events.at(-1)!];
  if (first.id !== last.id) {
    const resumed: JobStreamEvent[] = [];
    for await (const event of client.events(id, { lastEventId: first.id! })) resumed.push(event);
    assert.deepEqual(resumed.map((event) => [event.event, event.id]), [['completed', last.id]]);
  }
  // Resuming after the final event: nothing new, and the iterator ends instead of reconnecting forever.
  const nothing: JobStreamEvent[] = [];
  for await (const event of client.events(id, { lastEventId: last.id! })) nothing.push(event);
  assert.deepEqual(nothing, []);
});

/** A TCP relay in front of the gateway that can cut every connection, and shows what requests said. */
async function relay(target: URL): Promise<{ url: string; requests: string[]; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    sockets.add(inbound).add(outbound);
    inbound.once('data', (head: Buffer) => requests.push(head.toString('latin1')));
    inbound.pipe(outbound).pipe(inbound);
    for (const socket of [inbound, outbound]) socket.once('error', () => undefined).once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  return { url: `http://127.0.0.1:${port}`, requests, cut, close: () => new Promise((resolve) => (cut(), server.close(() => resolve()))) };
}

test('a dropped event stream is resumed with Last-Event-ID (and the API key) until the job ends', async () => {
  const proxy = await relay(new URL(system.url));
  const key = await withApiKey(system, 'client-events-test');
  try {
    const viaProxy = new CuratorClient({ baseUrl: proxy.url, apiKey: () => key.secret });
    const { id } = await viaProxy.submit(slowCard(5));
    const events: JobStreamEvent[] = [];
    for await (const event of viaProxy.events(id)) {
      events.push(event);
      if (events.length === 1) {
        assert.equal(event.event, 'snapshot');
        proxy.cut();
      }
      // Enough: the stream came back after the cut; cancel, so the slow picture does not hold the suite.
      if (events.length === 2 && !isFinished(event.job)) await viaProxy.cancel(id);
    }
    const streams = proxy.requests.filter((head) => head.startsWith(`GET /jobs/${id}/events `));
    assert.ok(streams.length >= 2, 'connected again after the cut');
    assert.match(streams[1]!, new RegExp(`\\r\\nlast-event-id: ${events[0]!.id}\\r\\n`, 'i'));
    assert.ok(proxy.requests.every((head) => head.toLowerCase().includes(`\r\nauthorization: bearer ${key.secret.toLowerCase()}\r\n`)), 'every request carries the key');
    for (let i = 1; i < events.length; i++) assert.notEqual(events[i]!.id, events[i - 1]!.id, 'no state is sent twice');
    assert.ok(isFinished(events.at(-1)!.job));
  } finally {
    await key.revoke();
    await proxy.close();
  }
});

test('cancel a running job: wait resolves with it canceled', async () => {
  const { id } = await client.submit(slowCard(6));
  for await (const { job } of client.events(id)) {
    if (job.status === 'running') break;
    assert.ok(!isFinished(job), `the job ended before it could be canceled: ${job.status}`);
  }
  const canceling = await client.cancel(id);
  assert.equal(canceling.id, id);
  const job = await client.wait(id);
  assert.equal(job.status, 'canceled');
  assert.equal(job.error?.code, 'canceled');
  const again = await rejection(client.cancel(id));
  assert.equal(again.status, 409);
  assert.equal(again.code, 'job_not_cancelable');
});

test('submitBatch, getMany in order with unknown ids reported, and wait by polling', async () => {
  const accepted = await client.submitBatch([
    { type: 'classify', input: { text: 'I love this!' } },
    { type: 'classify', input: { text: 'The match ended in a draw.' }, params: { task: 'genre' } },
  ]);
  assert.equal(accepted.length, 2);
  const unknown = randomUUID();
  const done = await Promise.all(accepted.map(({ id }) => client.wait(id, { via: 'poll', pollIntervalMs: { first: 50, max: 500 } })));
  assert.deepEqual(done.map((job) => job.status), ['succeeded', 'succeeded']);
  const found = await client.getMany([accepted[1]!.id, unknown, accepted[0]!.id]);
  assert.deepEqual(found.map((entry) => entry.id), [accepted[1]!.id, unknown, accepted[0]!.id]);
  const missing = found[1]!;
  assert.ok('error' in missing && !('status' in missing));
  assert.equal(missing.error.code, 'job_not_found');
  const genre = found[0]!;
  assert.ok('status' in genre && genre.type === 'classify' && genre.result?.task === 'genre');
});

test('getMany asks 100 ids at a time', async () => {
  const ids = Array.from({ length: 101 }, () => randomUUID());
  const found = await client.getMany(ids);
  assert.deepEqual(found.map((entry) => entry.id), ids);
});

test("refusals are CuratorApiErrors carrying the API's status, code, message and details", async () => {
  const invalid = await rejection(client.submit({ type: 'curate', input: { text: article }, params: { summaryMaxTokens: 500 } }));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.code, 'validation_failed');
  assert.equal(invalid.details[0]?.path, 'params.summaryMaxTokens');
  assert.match(invalid.message, /summaryMaxTokens/);

  const batch = await rejection(client.submitBatch([{ type: 'classify', input: { text: 'fine' } }, { type: 'classify', input: { text: '' } }]));
  assert.equal(batch.details[0]?.path, 'jobs.1.input.text');

  const unknown = await rejection(client.get(randomUUID()));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.code, 'job_not_found');

  const stream = await rejection(client.events(randomUUID()).next());
  assert.equal(stream.code, 'job_not_found');
});

test('a server that does not answer is an `unreachable` CuratorApiError with status 0', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const error = await rejection(new CuratorClient({ baseUrl: `http://127.0.0.1:${port}` }).get(randomUUID()));
  assert.equal(error.status, 0);
  assert.equal(error.code, 'unreachable');
});
