/**
 * Dynamic batching (TorchServe's max_batch_delay, Triton's dynamic batcher): requests with the same
 * key wait up to `maxDelayMs` for company, a batch leaves as soon as it holds `maxBatchSize`, and
 * batches run one at a time. Requests that arrive while a batch runs form the next one, which
 * leaves as soon as the running batch ends if its wait is already over. A request whose signal
 * aborts while it waits leaves its queue at once, rejected with `canceled`.
 */
import { CuratorError } from '@curator/contracts';

export interface MicroBatcherOptions<T, R> {
  maxBatchSize: number;
  maxDelayMs: number;
  /** Requests batch together only when their keys match. */
  key(item: T): string;
  /** Runs one batch; returns a result or an Error per item, in order. */
  run(items: T[]): Promise<(R | Error)[]>;
  onBatch?(info: { key: string; size: number; waitedMs: number }): void;
}

interface Waiting<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: Error): void;
  /** Stops listening to the request's signal (once it leaves the queue). */
  detach(): void;
}

export interface SubmitOptions {
  /** Aborting takes the request out of its queue while it waits; a running batch sees it itself. */
  signal?: AbortSignal;
}

interface Queue<T, R> {
  key: string;
  items: Waiting<T, R>[];
  since: number;
  timer: NodeJS.Timeout | undefined;
  ready: boolean;
}

export class MicroBatcher<T, R> {
  readonly #options: MicroBatcherOptions<T, R>;
  readonly #queues = new Map<string, Queue<T, R>>();
  #running = false;

  constructor(options: MicroBatcherOptions<T, R>) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
    this.#options = options;
  }

  /** Requests waiting for a batch. */
  get waiting(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.items.length;
    return n;
  }

  submit(item: T, options: SubmitOptions = {}): Promise<R> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(canceled());
    return new Promise<R>((resolve, reject) => {
      const key = this.#options.key(item);
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = { key, items: [], since: Date.now(), timer: undefined, ready: false };
        this.#queues.set(key, queue);
        const q = queue;
        q.timer = setTimeout(() => {
          q.timer = undefined;
          q.ready = true;
          this.#pump();
        }, this.#options.maxDelayMs);
      }
      const waiting: Waiting<T, R> = { item, resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) };
      const onAbort = () => this.#withdraw(key, waiting);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.items.push(waiting);
      if (queue.items.length >= this.#options.maxBatchSize) {
        queue.ready = true;
        this.#pump();
      }
    });
  }

  /** Takes a canceled request out of its queue, if it is still waiting there. */
  #withdraw(key: string, waiting: Waiting<T, R>): void {
    const queue = this.#queues.get(key);
    const index = queue ? queue.items.indexOf(waiting) : -1;
    if (!queue || index < 0) return;
    queue.items.splice(index, 1);
    if (queue.items.length === 0) {
      if (queue.timer) clearTimeout(queue.timer);
      this.#queues.delete(key);
    }
    waiting.reject(canceled());
  }

  #pump(): void {
    if (this.#running) return;
    // The queue that has waited longest among those ready goes first.
    let chosen: Queue<T, R> | undefined;
    for (const q of this.#queues.values()) if (q.ready && (!chosen || q.since < chosen.since)) chosen = q;
    if (!chosen) return;
    const batch = chosen.items.splice(0, this.#options.maxBatchSize);
    for (const w of batch) w.detach();
    const waitedMs = Date.now() - chosen.since;
    if (chosen.timer) clearTimeout(chosen.timer);
    if (chosen.items.length === 0) {
      this.#queues.delete(chosen.key);
    } else {
      // What a full batch left behind waits for company like a new arrival.
      const rest = chosen;
      rest.since = Date.now();
      rest.ready = rest.items.length >= this.#options.maxBatchSize;
      rest.timer = setTimeout(() => {
        rest.timer = undefined;
        rest.ready = true;
        this.#pump();
      }, this.#options.maxDelayMs);
    }
    this.#running = true;
    this.#options.onBatch?.({ key: chosen.key, size: batch.length, waitedMs });
    void this.#runBatch(batch);
  }

  async #runBatch(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.#options.run(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const r = results[i];
        if (r instanceof Error) w.reject(r);
        else w.resolve(r as R);
      });
    } catch (error) {
      for (const w of batch) w.reject(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#running = false;
      setImmediate(() => this.#pump());
    }
  }
}

function canceled(): CuratorError {
  return new CuratorError('canceled', 'The job was canceled');
}
