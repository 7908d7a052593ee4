import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { CuratorError } from '@curator/contracts';
import type { ExtractedArticle } from './extract.ts';
import type { ExtractionOutcome, ExtractionTask } from './extract-thread.ts';
import type { PageShapeLimits } from './page-shape.ts';

export interface ExtractionLimits extends PageShapeLimits {
  /** Hard deadline of one extraction in its thread (shape check, DOM, Readability); the thread is killed past it. */
  timeoutMs: number;
}

export interface ArticleExtractorOptions extends Partial<ExtractionLimits> {
  /** Extraction threads at most (one extraction each at a time); more extractions wait for a free one. */
  threads?: number;
  /** Heap limit of each thread; a page that needs more fails like one that runs too long. */
  maxHeapMb?: number;
}

/** Extracts articles in worker threads, so no page can stall the event loop of the process that asks. */
export interface ArticleExtractor {
  readonly limits: Readonly<ExtractionLimits>;
  /**
   * The article in `html` (fetched from `url`, which resolves relative links and names the page in errors).
   * Fails with `extraction_budget_exceeded` when the page is too deep, has too many nodes, runs past the
   * deadline or the heap limit; `extraction_failed` when no article is found; `canceled` when `signal` aborts;
   * `internal_error` (retryable) when no thread can start.
   */
  extract(html: string, url: string, options?: { signal?: AbortSignal }): Promise<ExtractedArticle>;
  /** Stops the threads at once; extractions in flight fail with `worker_shutdown`. */
  close(): Promise<void>;
}

/**
 * Defaults sized from measurements (docs/benchmarks.md, "Article extraction"): real news pages nest under 50
 * levels and hold under 20,000 nodes, and a 2 MB page shaped like one extracts in about a second on a
 * 2-core machine. A single chain 256 deep takes about 2 s; pages built to be slow within both limits (many
 * such chains) are what the deadline is for.
 * packages/config's EXTRACT_* defaults are the same numbers (a test keeps them so).
 */
export const defaultExtractionLimits: Readonly<ExtractionLimits> = Object.freeze({ timeoutMs: 5000, maxDepth: 256, maxNodes: 50_000 });
export const defaultExtractionThreads = 2;
const defaultMaxHeapMb = 512;
/** An idle thread stays this long, so back-to-back jobs don't pay jsdom's start-up (about a second) each. */
const idleThreadMs = 60_000;

const threadModule = new URL('./extract-thread.ts', import.meta.url).href;

/**
 * A pool of extraction threads (piscina). Each extraction gets a hard deadline that starts when a thread
 * begins it; past the deadline the thread is terminated (`worker.terminate()`: stops even a tight
 * synchronous loop) and piscina starts a fresh one for the next extraction.
 */
export function createArticleExtractor(options: ArticleExtractorOptions = {}): ArticleExtractor {
  const limits: ExtractionLimits = {
    timeoutMs: options.timeoutMs ?? defaultExtractionLimits.timeoutMs,
    maxDepth: options.maxDepth ?? defaultExtractionLimits.maxDepth,
    maxNodes: options.maxNodes ?? defaultExtractionLimits.maxNodes,
  };
  const maxHeapMb = options.maxHeapMb ?? defaultMaxHeapMb;
  const pool = new Piscina<ExtractionTask, ExtractionOutcome>({
    filename: threadModule,
    minThreads: 1,
    maxThreads: Math.max(1, options.threads ?? defaultExtractionThreads),
    idleTimeout: idleThreadMs,
    resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
  });
  let closed = false;
  /** Extractions not yet begun by a thread: the ones to fail should no thread be able to start. */
  const waiting = new Set<(reason: Error) => void>();
  // A thread died outside a task: at start-up (jsdom failed to load, a heap limit too small for it) or idle.
  // After a start-up failure piscina starts no thread for queued tasks, so they would wait forever: fail
  // them instead (each later extraction tries a new thread again, and fails as fast if it dies too).
  pool.on('error', (error: Error) => {
    if (pool.threads.length > 0) return;
    for (const fail of [...waiting]) fail(error);
  });

  const extract = async (html: string, url: string, { signal }: { signal?: AbortSignal } = {}): Promise<ExtractedArticle> => {
    if (closed) throw new CuratorError('worker_shutdown', 'The article extractor is closed', { retryable: true });
    if (signal?.aborted) throw new CuratorError('canceled', 'The extraction was canceled');
    const stop = new AbortController();
    const { port1: startedListener, port2: started } = new MessageChannel();
    let overran = false;
    let begun = false;
    let threadFailure: Error | undefined;
    const failUnstarted = (reason: Error) => {
      threadFailure = reason;
      stop.abort();
    };
    waiting.add(failUnstarted);
    let deadline: NodeJS.Timeout | undefined;
    startedListener.once('message', () => {
      begun = true;
      waiting.delete(failUnstarted);
      deadline = setTimeout(() => {
        overran = true;
        stop.abort();
      }, limits.timeoutMs);
    });
    const cancel = () => stop.abort();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const outcome = await pool.run({ html, url, limits: { maxDepth: limits.maxDepth, maxNodes: limits.maxNodes }, started }, { signal: stop.signal, transferList: [started] });
      if (outcome.ok) return outcome.article;
      throw new CuratorError(outcome.code, outcome.message, { retryable: outcome.retryable });
    } catch (error) {
      if (error instanceof CuratorError) throw error;
      if (overran) throw new CuratorError('extraction_budget_exceeded', `Extracting the article at ${url} took longer than the ${limits.timeoutMs} ms limit; it was stopped`, { cause: error });
      if (closed) throw new CuratorError('worker_shutdown', 'The article extractor closed during the extraction', { retryable: true, cause: error });
      if (signal?.aborted) throw new CuratorError('canceled', 'The extraction was canceled', { cause: error });
      // The thread's "begun" may still sit in the port, behind the news of its death.
      begun ||= receiveMessageOnPort(startedListener) !== undefined;
      const reason = threadFailure ?? (error as Error);
      if (!begun) {
        // Not the page's fault: no thread got as far as reading it. Another try (another worker) may do.
        throw new CuratorError('internal_error', `No article extraction thread could start: ${reason.message}`, { retryable: true, cause: reason });
      }
      if ((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new CuratorError('extraction_budget_exceeded', `Extracting the article at ${url} needed more than the ${maxHeapMb} MB memory limit; it was stopped`, { cause: error });
      }
      throw new CuratorError('extraction_failed', `The extraction thread failed on the page at ${url}: ${reason.message}`, { cause: error });
    } finally {
      waiting.delete(failUnstarted);
      clearTimeout(deadline);
      startedListener.close();
      signal?.removeEventListener('abort', cancel);
    }
  };

  return {
    limits: Object.freeze({ ...limits }),
    extract,
    async close() {
      if (closed) return;
      closed = true;
      await pool.destroy();
    },
  };
}

let shared: ArticleExtractor | undefined;

/**
 * The process's own extractor with the default limits, created on first use. Its idle threads do not keep
 * the process alive. Services pass an extractor built from their config instead.
 */
export function sharedArticleExtractor(): ArticleExtractor {
  shared ??= createArticleExtractor();
  return shared;
}

/** Extracts off the main thread with `extractor` (default: the shared one). */
export function extractArticle(html: string, url: string, options: { extractor?: ArticleExtractor; signal?: AbortSignal } = {}): Promise<ExtractedArticle> {
  const extractor = options.extractor ?? sharedArticleExtractor();
  return extractor.extract(html, url, options.signal ? { signal: options.signal } : {});
}
