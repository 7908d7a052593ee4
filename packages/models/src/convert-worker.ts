// Runs one conversion in a worker thread and relays its progress: float16 rounding and
// transposes of a 1.3 GB checkpoint are synchronous work that must not stall the main loop
// (the gateway, the worker's job locks, progress bars all live there).
import { Worker } from 'node:worker_threads';
import { CuratorError, type ErrorCode } from '@curator/contracts';
import type { ConversionJob, ConversionOutcome, ConversionProgress } from './convert-run.ts';
import type { ThreadMessage } from './convert-thread.ts';

export function convertInThread(job: ConversionJob, options: { onProgress?: (progress: ConversionProgress) => void; signal?: AbortSignal } = {}): Promise<ConversionOutcome> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CuratorError('canceled', 'The conversion was canceled'));
      return;
    }
    const worker = new Worker(new URL('./convert-thread.ts', import.meta.url), { workerData: job, name: `convert ${job.builder} ${job.precision}` });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      settle(() => reject(new CuratorError('canceled', 'The conversion was canceled')));
      void worker.terminate();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: ThreadMessage) => {
      if (message.kind === 'progress') options.onProgress?.(message.progress);
      else if (message.kind === 'done') settle(() => resolve(message.outcome));
      else {
        const { code, message: text, details } = message.error;
        const error = new CuratorError((code ?? 'internal_error') as ErrorCode, text, Array.isArray(details) ? { details } : {});
        if (message.error.stack) error.stack = message.error.stack;
        settle(() => reject(error));
      }
    });
    worker.on('error', (error) => settle(() => reject(new CuratorError('internal_error', `The conversion thread crashed: ${error.message}`, { cause: error }))));
    worker.on('exit', (code) => settle(() => reject(new CuratorError('internal_error', `The conversion thread exited (code ${code}) before it finished`))));
  });
}
