import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { pools } from '@curator/queue';

type Listener = () => void;

/**
 * Wakes job event streams when BullMQ reports a change. The events stream is trimmed and may
 * drop entries, so listeners re-read the job itself (and streams also poll); an event only says
 * "look again now".
 */
export class JobChangeNotifier {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly events: QueueEvents[];
  private readonly connections: Redis[];

  constructor(connection: Redis, prefix: string) {
    // QueueEvents blocks on XREAD: each needs a connection of its own.
    this.connections = pools.map(() => connection.duplicate());
    this.events = pools.map((pool, i) => new QueueEvents(pool, { connection: this.connections[i]!, prefix }));
    for (const queueEvents of this.events) {
      const wake = ({ jobId }: { jobId: string }) => this.wake(jobId);
      queueEvents.on('progress', wake);
      queueEvents.on('active', wake);
      queueEvents.on('completed', wake);
      queueEvents.on('failed', wake);
      queueEvents.on('retries-exhausted', wake);
      queueEvents.on('waiting', wake);
      queueEvents.on('delayed', wake);
      queueEvents.on('error', () => {
        // Connection trouble: streams keep polling, nothing to do here.
      });
    }
  }

  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  private wake(jobId: string): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener();
  }

  async close(): Promise<void> {
    await Promise.all(this.events.map((e) => e.close()));
    for (const connection of this.connections) connection.disconnect();
  }
}
