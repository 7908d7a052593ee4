import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { pools, parentOfChildId } from './names.ts';
import { createRedis, logRedisErrors, type RedisErrorLog } from './connection.ts';

/** How long a reader's close may take once its connection ended. */
const closeGraceMs = 1000;

/** BullMQ events that mean a job's view may have changed. */
const changeEvents = ['waiting', 'active', 'progress', 'completed', 'failed', 'delayed', 'waiting-children', 'stalled', 'retries-exhausted', 'removed'] as const;

/**
 * A subscription to one job's changes. A change is only a prompt to read the job again: BullMQ's
 * event stream is trimmed and a reconnect may skip entries, so the job itself is the truth.
 */
export interface JobWatch {
  /** Resolves at the next change after the previous call (at once if one came in between). */
  changed(): Promise<void>;
  /** Ends the subscription; a pending `changed()` resolves. */
  close(): void;
}

/**
 * Pushes job changes to subscribers from BullMQ's event streams (one blocking reader per pool,
 * started on the first subscription, shared by all). A child job's changes (its stages in another
 * pool) are its parent's too.
 */
export class JobEvents {
  private readonly listeners = new Map<string, Set<() => void>>();
  private readers: Array<{ events: QueueEvents; connection: Redis }> | null = null;
  private readonly redisUrl: string | undefined;
  private readonly prefix: string;
  private readonly logger: RedisErrorLog;

  constructor(options: { redisUrl: string | undefined; prefix: string; logger: RedisErrorLog }) {
    this.redisUrl = options.redisUrl;
    this.prefix = options.prefix;
    this.logger = options.logger;
  }

  watch(jobId: string): JobWatch {
    this.startReaders();
    let pending = false;
    let wake: (() => void) | null = null;
    const listener = () => {
      if (!wake) {
        pending = true;
        return;
      }
      const resolve = wake;
      wake = null;
      resolve();
    };
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return {
      changed: () => {
        if (pending) {
          pending = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => (wake = resolve));
      },
      close: () => {
        set.delete(listener);
        if (set.size === 0) this.listeners.delete(jobId);
        wake?.();
        wake = null;
      },
    };
  }

  /**
   * Starts the readers (the first `watch` does too) and resolves once they read: a gateway starts them
   * before serving, so no change falls between a client's first read and the readers' start.
   */
  async start(): Promise<void> {
    this.startReaders();
    await Promise.all(this.readers!.map(({ events }) => events.waitUntilReady()));
  }

  private startReaders(): void {
    if (this.readers) return;
    this.readers = pools.map((pool) => {
      // QueueEvents blocks on XREAD: each needs a connection of its own.
      const connection = createRedis(this.redisUrl);
      logRedisErrors(connection, this.logger, `events-${pool}`);
      // Events published while the reader was away may be gone: every watcher looks again.
      connection.on('ready', () => this.wakeAll());
      const events = new QueueEvents(pool, { connection, prefix: this.prefix });
      for (const name of changeEvents) events.on(name, ({ jobId }: { jobId: string }) => this.wake(jobId));
      events.on('error', () => {
        // Logged by the connection's listener; watchers are woken when it is back.
      });
      return { events, connection };
    });
  }

  private wake(jobId: string): void {
    for (const id of [jobId, parentOfChildId(jobId)]) {
      if (id) for (const listener of this.listeners.get(id) ?? []) listener();
    }
  }

  private wakeAll(): void {
    for (const set of this.listeners.values()) for (const listener of set) listener();
  }

  async close(): Promise<void> {
    for (const set of this.listeners.values()) for (const listener of set) listener();
    if (!this.readers) return;
    const closed = Promise.all(this.readers.map(({ events }) => events.close().catch(() => undefined)));
    // BullMQ does not close a connection it was handed: ending it stops the reader's XREAD. BullMQ's own
    // close sometimes never resolves (about one close in four after Redis restarted under it, seen in
    // apps/gateway/test/redis-outage.test.ts), so it gets a second at most once its connection is gone:
    // nothing is read after that anyway.
    for (const { connection } of this.readers) connection.disconnect();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, closeGraceMs)))]);
    clearTimeout(timer);
    this.readers = null;
  }
}
