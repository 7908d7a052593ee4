import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MicroBatcher } from '../src/micro-batcher.ts';

interface Item {
  key: string;
  value: number;
}

function recorder(options: { maxBatchSize: number; maxDelayMs: number; runMs?: number }) {
  const batches: Item[][] = [];
  let running = 0;
  let overlapped = false;
  const batcher = new MicroBatcher<Item, number>({
    ...options,
    key: (item) => item.key,
    run: async (items) => {
      running++;
      if (running > 1) overlapped = true;
      batches.push(items);
      await sleep(options.runMs ?? 1);
      running--;
      return items.map((i) => (i.value < 0 ? new Error(`negative ${i.value}`) : i.value * 10));
    },
  });
  return { batcher, batches, overlapped: () => overlapped };
}

test('requests that arrive together share a batch; each gets its own result', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 8, maxDelayMs: 20 });
  const results = await Promise.all([1, 2, 3].map((value) => batcher.submit({ key: 'a', value })));
  assert.deepEqual(results, [10, 20, 30]);
  assert.deepEqual(batches.map((b) => b.map((i) => i.value)), [[1, 2, 3]]);
});

test('a full batch leaves at once; the rest forms the next one', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 3, maxDelayMs: 10_000 });
  const pending = [1, 2, 3, 4].map((value) => batcher.submit({ key: 'a', value }));
  // Three fill a batch that runs without waiting out the 10 s delay; the fourth waits for company.
  await Promise.all(pending.slice(0, 3));
  assert.deepEqual(batches.map((b) => b.length), [3]);
  assert.equal(batcher.waiting, 1);
  await Promise.all([batcher.submit({ key: 'a', value: 5 }), batcher.submit({ key: 'a', value: 6 })]);
  assert.deepEqual(await pending[3], 40);
  assert.deepEqual(batches.map((b) => b.map((i) => i.value)), [[1, 2, 3], [4, 5, 6]]);
});

test('different keys never share a batch, and batches never overlap', async () => {
  const { batcher, batches, overlapped } = recorder({ maxBatchSize: 8, maxDelayMs: 5, runMs: 10 });
  const items = [
    { key: 'greedy', value: 1 },
    { key: 'beam', value: 2 },
    { key: 'greedy', value: 3 },
    { key: 'beam', value: 4 },
  ];
  assert.deepEqual(await Promise.all(items.map((i) => batcher.submit(i))), [10, 20, 30, 40]);
  assert.deepEqual(batches.map((b) => b.map((i) => i.value)).sort(), [[1, 3], [2, 4]]);
  assert.equal(overlapped(), false);
});

test('requests that arrive while a batch runs make up the next batch', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 8, maxDelayMs: 0, runMs: 30 });
  const first = batcher.submit({ key: 'a', value: 1 });
  await sleep(5);
  const later = [2, 3, 4].map((value) => batcher.submit({ key: 'a', value }));
  await Promise.all([first, ...later]);
  assert.deepEqual(batches.map((b) => b.map((i) => i.value)), [[1], [2, 3, 4]]);
});

test('an error for one item rejects that item only; a failing run rejects its batch', async () => {
  const { batcher } = recorder({ maxBatchSize: 8, maxDelayMs: 1 });
  const [ok, bad] = await Promise.allSettled([batcher.submit({ key: 'a', value: 1 }), batcher.submit({ key: 'a', value: -1 })]);
  assert.deepEqual(ok, { status: 'fulfilled', value: 10 });
  assert.equal(bad.status, 'rejected');
  const failing = new MicroBatcher<number, number>({ maxBatchSize: 2, maxDelayMs: 1, key: () => 'k', run: async () => Promise.reject(new Error('boom')) });
  await assert.rejects(failing.submit(1), /boom/);
  // The batcher keeps serving after a failure.
  await assert.rejects(failing.submit(2), /boom/);
});

test('a request canceled while it waits leaves its queue at once; the rest of its batch completes', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 3, maxDelayMs: 60_000 });
  const controller = new AbortController();
  const canceledOne = batcher.submit({ key: 'a', value: 1 }, { signal: controller.signal });
  const second = batcher.submit({ key: 'a', value: 2 });
  controller.abort();
  // Rejected before any batch ran (the 60 s window is far from over), and out of the queue.
  await assert.rejects(canceledOne, { code: 'canceled' });
  assert.equal(batcher.waiting, 1);
  assert.equal(batches.length, 0);
  const rest = await Promise.all([second, batcher.submit({ key: 'a', value: 3 }), batcher.submit({ key: 'a', value: 4 })]);
  assert.deepEqual(rest, [20, 30, 40]);
  assert.deepEqual(batches.map((b) => b.map((i) => i.value)), [[2, 3, 4]]);
  // Aborted before it was submitted: never queued.
  await assert.rejects(batcher.submit({ key: 'a', value: 5 }, { signal: AbortSignal.abort() }), { code: 'canceled' });
  // The last waiting request of a key canceled: its queue (and timer) goes with it.
  const lone = new AbortController();
  const pending = batcher.submit({ key: 'b', value: 6 }, { signal: lone.signal });
  lone.abort();
  await assert.rejects(pending, { code: 'canceled' });
  assert.equal(batcher.waiting, 0);
});
