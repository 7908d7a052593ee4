// Worker-thread entry of a conversion (see convert-worker.ts): the builders' float work runs here,
// off the main event loop. Progress and the outcome go back as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { isCuratorError } from '@curator/contracts';
import { runConversion, type ConversionJob, type ConversionProgress } from './convert-run.ts';

export type ThreadMessage =
  | { kind: 'progress'; progress: ConversionProgress }
  | { kind: 'done'; outcome: Awaited<ReturnType<typeof runConversion>> }
  | { kind: 'failed'; error: { code?: string; message: string; details?: unknown; stack?: string } };

const port = parentPort!;
const send = (message: ThreadMessage) => port.postMessage(message);
// A progress message per tensor is plenty for a bar, and cheap next to reading the tensor.
try {
  const outcome = await runConversion(workerData as ConversionJob, (progress) => send({ kind: 'progress', progress }));
  send({ kind: 'done', outcome });
} catch (error) {
  const e = error as Error;
  send({ kind: 'failed', error: { ...(isCuratorError(error) ? { code: error.code, details: error.details } : {}), message: isCuratorError(error) ? e.message : `${e.name}: ${e.message}`, ...(e.stack ? { stack: e.stack } : {}) } });
}
