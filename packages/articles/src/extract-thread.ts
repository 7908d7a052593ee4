import type { MessagePort } from 'node:worker_threads';
import { isCuratorError, type ErrorCode } from '@curator/contracts';
import { extractArticleInThread, type ExtractedArticle } from './extract.ts';
import { checkPageShape, type PageShapeLimits } from './page-shape.ts';

export interface ExtractionTask {
  html: string;
  url: string;
  limits: PageShapeLimits;
  /** Told when the work begins, so the deadline counts the work and not the wait for a free thread. */
  started: MessagePort;
}

/** Errors cross the thread boundary as data: a structured-cloned Error loses its class, code and flags. */
export type ExtractionOutcome = { ok: true; article: ExtractedArticle } | { ok: false; code: ErrorCode; message: string; retryable: boolean };

/** One extraction in a pool thread (piscina loads this module in each thread): shape check, then jsdom + Readability. */
export default function runExtractionTask(task: ExtractionTask): ExtractionOutcome {
  task.started.postMessage('started');
  try {
    checkPageShape(task.html, task.limits, task.url);
    return { ok: true, article: extractArticleInThread(task.html, task.url) };
  } catch (error) {
    if (isCuratorError(error)) return { ok: false, code: error.code, message: error.message, retryable: error.retryable };
    throw error;
  }
}
