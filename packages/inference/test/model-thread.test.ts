import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ModelThread } from '../src/index.ts';
import { CuratorError } from '@curator/contracts';

const engine = new URL('./fixtures/matmul-engine.ts', import.meta.url);

test('inference runs off the main thread: the event loop keeps turning during a long run', async () => {
  const thread = await ModelThread.start({ module: engine, options: { size: 256, depth: 32 }, name: 'matmul' });
  try {
    assert.deepEqual(thread.info, { inputs: ['x'], outputs: ['y'] });
    const delay = monitorEventLoopDelay({ resolution: 5 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    delay.enable();
    const progress: number[] = [];
    const started = performance.now();
    const result = await thread.call<{ sum: number }, { step: number }>('run', { repeats: 12 }, { onProgress: (p) => progress.push(p.step) });
    const elapsed = performance.now() - started;
    delay.disable();
    clearInterval(ticker);
    assert.equal(typeof result.sum, 'number');
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Were the model on this thread, the loop would stall for the whole run; here the longest
    // stall is a small fraction of it and the interval kept firing throughout.
    const maxLagMs = delay.max / 1e6;
    assert.ok(maxLagMs < elapsed / 4, `max event-loop lag ${maxLagMs.toFixed(1)} ms during a ${elapsed.toFixed(0)} ms inference`);
    assert.ok(ticks >= (elapsed / 10) * 0.3, `interval fired ${ticks} times in ${elapsed.toFixed(0)} ms`);
  } finally {
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
