import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelThread, holdModelCalls } from '../src/index.ts';
import { CuratorError } from '@curator/contracts';

const engine = new URL('./fixtures/matmul-engine.ts', import.meta.url);

test('inference runs off the main thread: the event loop keeps turning while a model computes', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 256, depth: 32 }, name: 'matmul' });
  try {
    assert.deepEqual(thread.info, { inputs: ['x'], outputs: ['y'] });
    // A run far longer than this test lasts: it is canceled once the main loop has shown it keeps turning.
    const controller = new AbortController();
    const steps: number[] = [];
    let settled = false;
    const run = thread.call<{ sum: number }, { step: number }>('run', { repeats: 100_000 }, { signal: controller.signal, onProgress: (p) => steps.push(p.step) });
    run.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Interval ticks on this thread that each saw the model further along than the tick before.
    let interleaved = 0;
    let lastSeen = 0;
    await new Promise<void>((resolve) => {
      const ticker = setInterval(() => {
        const now = steps.length;
        if (now > lastSeen && lastSeen > 0) interleaved++;
        lastSeen = now;
        if (interleaved >= 5 || settled) {
          clearInterval(ticker);
          resolve();
        }
      }, 1);
    });
    assert.equal(settled, false, 'the model was still computing while this thread ran its timers');
    assert.equal(interleaved, 5, 'timers here and model steps there advanced together');
    controller.abort();
    await assert.rejects(run, (error: unknown) => error instanceof CuratorError && error.code === 'canceled');
    assert.deepEqual(steps, steps.map((_, i) => i + 1), 'progress arrives in order');
  } finally {
    await thread.close();
  }
});

test('the test hook holds model calls until released', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 8, depth: 1 }, name: 'matmul' });
  const hold = holdModelCalls();
  try {
    let done = false;
    const call = thread.call<{ sum: number }>('run', { repeats: 1 }).then((value) => {
      done = true;
      return value;
    });
    await hold.reached(1);
    // Let everything that could run, run: the call is still held.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    hold.release();
    assert.equal(typeof (await call).sum, 'number');
    // Released: later calls go straight through.
    assert.equal(typeof (await thread.call<{ sum: number }>('run', { repeats: 1 })).sum, 'number');
  } finally {
    hold.release();
    await thread.close();
  }
});

test('typed errors cross the thread boundary with their code and details', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 8, depth: 1 }, name: 'matmul' });
  try {
    await assert.rejects(thread.call('fail', {}), (error: unknown) => {
      assert.ok(error instanceof CuratorError);
      assert.equal(error.code, 'bad_input');
      assert.deepEqual(error.details, [{ path: 'x', message: 'bad' }]);
      return true;
    });
    await assert.rejects(thread.call('nope', {}), /no method "nope"/);
  } finally {
    await thread.close();
  }
});

test('an aborted call is canceled inside the thread between steps', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 128, depth: 16 }, name: 'matmul' });
  try {
    const controller = new AbortController();
    const call = thread.call('run', { repeats: 10_000 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(call, (error: unknown) => error instanceof CuratorError && error.code === 'canceled');
    // The thread stays usable after a cancel.
    const again = await thread.call<{ sum: number }>('run', { repeats: 1 });
    assert.equal(typeof again.sum, 'number');
  } finally {
    await thread.close();
  }
});

test("a call waiting on the thread's event loop learns of its cancel through ctx.signal", async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 8, depth: 1 }, name: 'matmul' });
  try {
    const controller = new AbortController();
    const waiting = thread.call('wait', {}, { signal: controller.signal });
    // The call is in the thread (a later call has been answered) before the abort.
    await thread.call('run', { repeats: 1 });
    controller.abort();
    await assert.rejects(waiting, (error: unknown) => error instanceof CuratorError && error.code === 'canceled');
    // Aborted before it was sent: the signal starts aborted.
    await assert.rejects(thread.call('wait', {}, { signal: AbortSignal.abort() }), (error: unknown) => error instanceof CuratorError && error.code === 'canceled');
  } finally {
    await thread.close();
  }
});

test('a crashed thread fails its calls as retryable instead of hanging them', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 8, depth: 1 }, name: 'matmul' });
  await assert.rejects(thread.call('crash', {}), (error: unknown) => error instanceof CuratorError && error.code === 'inference_failed' && error.retryable);
  assert.equal(thread.alive, false);
  await assert.rejects(thread.call('run', { repeats: 1 }), /not running/);
});

test('a failing engine start is reported as model_load_failed', async () => {
  await assert.rejects(
    ModelThread.start({ module: new URL('./fixtures/does-not-exist.ts', import.meta.url), options: {}, name: 'missing' }),
    (error: unknown) => error instanceof CuratorError,
  );
});
