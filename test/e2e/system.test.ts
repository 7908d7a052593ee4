// End to end: the real processes (`curator start`, and gateway + worker as separate processes),
// real Redis, a real S3 protocol server, real onnxruntime sessions on the generated models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { realManifest } from '@curator/models';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { run } from '../support/processes.ts';

let t: TestEnvironment;

before(async () => {
  t = await testEnvironment({ vars: { LOG_LEVEL: 'info' } });
});
after(async () => {
  await t.close();
});

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
  return { status: res.status, body: await res.json() };
}

test('`curator start` runs the whole system in one process: classify and a whole curate card over HTTP', async () => {
  const curator = run('apps/cli/src/main.ts', ['start'], t.vars);
  try {
    const up = await curator.waitForLog((e) => e.msg === 'Curator is up');
    const url = String(up.url);

    const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: { text: 'I love this!' } }) });
    assert.equal(accepted.status, 202);
    const view = await waitFor(() => json(`${url}/jobs/${accepted.body.id}`), (r) => r.body.status === 'succeeded' || r.body.status === 'failed', 'the job');
    assert.equal(view.body.status, 'succeeded', JSON.stringify(view.body.error));
    assert.ok(['negative', 'neutral', 'positive'].includes(view.body.result.label));
    assert.equal(view.body.result.models, 'test', 'test-model output says so');

    const invalid = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: {} }) });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.details[0].path, /^input/);

    // The whole card through the gateway. The image URLs are presigned and fetched as a client would;
    // the embedded S3 server checks their signatures (but also serves unsigned requests, so this is no privacy test).
    const curate = await json(`${url}/jobs`, {
      method: 'POST',
      body: JSON.stringify({ type: 'curate', input: { text: 'Fishermen returned to the harbour at dawn as repairs ended. Shops on the quay reopened.', title: 'Harbour reopens' }, params: { seed: 3, image: { width: 64, height: 64, steps: 3 } } }),
    });
    assert.equal(curate.status, 202);
    const card = await waitFor(() => json(`${url}/jobs/${curate.body.id}`), (r) => ['succeeded', 'failed'].includes(r.body.status), 'the curate job');
    assert.equal(card.body.status, 'succeeded', JSON.stringify(card.body.error));
    const { image } = card.body.result;
    assert.match(image.url, /X-Amz-Signature=/);
    assert.match(image.cardUrl, /X-Amz-Expires=/);
    for (const link of [image.url, image.cardUrl]) {
      const res = await fetch(link);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual([...new Uint8Array(await res.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    }
    // Minted fresh on every read.
    const reread = await json(`${url}/jobs/${curate.body.id}`);
    assert.ok(reread.body.result.image.card.expiresAt >= image.card.expiresAt);

    const ready = await json(`${url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    const workers = await json(`${url}/workers`);
    assert.equal(workers.body.workers.length, 1);
  } finally {
    assert.equal(await curator.stop(), 0);
  }
});

test('gateway and worker as separate processes: events stream the job to completion; SIGTERM stops both cleanly', async () => {
  const worker = run('apps/worker/src/main.ts', [], t.vars);
  const gateway = run('apps/gateway/src/main.ts', [], t.vars);
  try {
    await worker.waitForLog((e) => e.msg === 'worker ready');
    const listening = await gateway.waitForLog((e) => e.msg === 'gateway listening');
    const url = String(listening.url);
    await waitFor(() => json(`${url}/readyz`), (r) => r.status === 200, 'readiness');

    const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: { text: 'The match ended in a draw.' }, params: { task: 'genre' } }) });
    const res = await fetch(`${url}${accepted.body.links.events}`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text(); // the stream ends when the job does
    const field = (block: string, name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
    const events = text
      .split('\n\n')
      .filter((block) => field(block, 'data') !== undefined)
      .map((block) => ({ id: field(block, 'id'), event: field(block, 'event')!, data: JSON.parse(field(block, 'data')!) }));
    assert.ok(['snapshot', 'completed'].includes(events[0]!.event));
    assert.ok(events.every((e) => e.id), 'each event carries its version as id, for Last-Event-ID');
    const last = events.at(-1)!;
    assert.equal(last.event, 'completed');
    assert.equal(last.data.job.status, 'succeeded');
    assert.ok(['business', 'entertainment', 'politics', 'sport', 'tech'].includes(last.data.job.result.label));
  } finally {
    assert.equal(await gateway.stop(), 0);
    assert.equal(await worker.stop(), 0);
  }
  assert.ok(worker.lines.some((l) => l.includes('worker stopped')));
});

test('first start with no way to fetch the real models stops with a message that names them and the way out', async () => {
  const empty = `${t.dataDir}/no-models`;
  const curator = run('apps/cli/src/main.ts', ['start'], { ...t.vars, CURATOR_MODELS: 'real', MODELS_DIR: empty, HF_ENDPOINT: 'http://127.0.0.1:9' });
  const code = await new Promise<number | null>((resolve) => curator.child.once('exit', resolve));
  assert.equal(code, 1);
  const output = curator.lines.join('\n');
  for (const { id } of realManifest.models) assert.ok(output.includes(id), `names ${id}`);
  assert.match(output, /npm run curator -- models (prepare|pull)/);
  assert.match(output, /CURATOR_MODELS=test/);
});
