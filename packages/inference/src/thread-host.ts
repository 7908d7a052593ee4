// Runs inside a worker thread: loads an engine module and serves its methods.
import { parentPort, workerData } from 'node:worker_threads';
import { CuratorError, isCuratorError } from '@curator/contracts';
import type { FromThread, SerializedError, ThreadInit, ToThread } from './thread-protocol.ts';
import type { EngineModule, EngineCallContext } from './model-thread.ts';

const port = parentPort;
if (!port) throw new Error('thread-host.ts must run in a worker thread');

function serialize(error: unknown): SerializedError {
  if (isCuratorError(error)) {
    return { name: error.name, message: error.message, code: error.code, details: error.details, retryable: error.retryable, stack: error.stack };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, stack: e.stack };
}

const send = (message: FromThread) => port.postMessage(message);
const init = workerData as ThreadInit;

try {
  const mod = (await import(init.module)) as EngineModule;
  const engine = await mod.createEngine(init.options, {
    log: (level, message, fields) => send({ kind: 'log', level, message, fields }),
  });
  const aborts = new Map<number, AbortController>();
  port.on('message', async (message: ToThread) => {
    if (message.kind === 'cancel') {
      aborts.get(message.id)?.abort();
      return;
    }
    if (message.kind === 'close') {
      try {
        await engine.close?.();
      } finally {
        port.close();
      }
      return;
    }
    const { id, method, args } = message;
    const handler = engine.methods[method];
    if (!handler) {
      send({ kind: 'error', id, error: serialize(new CuratorError('internal_error', `Engine has no method "${method}"`)) });
      return;
    }
    const flag = new Int32Array(message.cancelFlag);
    const abort = new AbortController();
    // A cancel sent before this call arrived is in the flag already.
    if (Atomics.load(flag, 0) === 1) abort.abort();
    else aborts.set(id, abort);
    const context: EngineCallContext = {
      signal: abort.signal,
      progress: (progress) => send({ kind: 'progress', id, progress }),
      isCanceled: () => Atomics.load(flag, 0) === 1,
      throwIfCanceled: () => {
        if (Atomics.load(flag, 0) === 1) throw new CuratorError('canceled', 'The job was canceled');
      },
    };
    try {
      const value = await handler(args, context);
      send({ kind: 'result', id, value });
    } catch (error) {
      send({ kind: 'error', id, error: serialize(error) });
    } finally {
      aborts.delete(id);
    }
  });
  send({ kind: 'ready', info: engine.info ?? null });
} catch (error) {
  send({ kind: 'init-failed', error: serialize(error) });
}
