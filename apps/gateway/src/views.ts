import { createHash } from 'node:crypto';
import { CuratorError, terminalStatuses, type JobView, type StoredJobView } from '@curator/contracts';
import type { JobQueues, Viewer } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import { presignResult } from '@curator/storage';
import { seesAllJobs, type Caller } from './caller.ts';

export const jobNotFound = (id: string) => new CuratorError('job_not_found', `No job ${id}`, { details: [{ path: 'id', message: 'unknown job id' }] });

/** Whose jobs a caller reads and acts on: its own (an admin: every job). Another owner's job is a 404, like an unknown one. */
export function viewerOf(caller: Caller): Viewer {
  return { owner: caller.owner, all: seesAllJobs(caller) };
}

/** Jobs as clients read them: read from the queue, with presigned URLs in their results. */
export class JobViews {
  private readonly queues: JobQueues;
  private readonly storage: ObjectStorage;

  constructor(queues: JobQueues, storage: ObjectStorage) {
    this.queues = queues;
    this.storage = storage;
  }

  toPublic(view: StoredJobView): Promise<JobView> {
    return presignResult(view, this.storage);
  }

  async get(id: string, viewer: Viewer): Promise<JobView | null> {
    const view = await this.queues.get(id, viewer);
    return view && this.toPublic(view);
  }
}

export const isFinished = (view: Pick<StoredJobView, 'status'>) => terminalStatuses.includes(view.status);

/**
 * A version of a job's state, the same on every gateway replica: a client that reconnects to the
 * event stream with it as `Last-Event-ID` gets the job again only if it changed since.
 */
export function versionOf(view: StoredJobView): string {
  const { links: _links, ...state } = view;
  return createHash('sha256').update(JSON.stringify(state)).digest('base64url').slice(0, 22);
}

/**
 * A job's view now and again each time it changes, until it is final, it is gone, or `signal`
 * aborts. Changes are pushed from BullMQ's events (subscribed before the first read, so none falls
 * in between) and only prompt a fresh read: nothing polls. The first read's failure is thrown (an
 * unknown job is 404 `job_not_found`); a later one ends the sequence after `onLostRead` hears of it
 * (Redis went away, or the job's ttl ran out).
 */
export async function* followJob(queues: JobQueues, id: string, viewer: Viewer, signal: AbortSignal, onLostRead?: (error: Error | null) => void): AsyncGenerator<StoredJobView> {
  const watch = queues.watch(id);
  try {
    let view = await queues.get(id, viewer);
    if (!view) throw jobNotFound(id);
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal.aborted) resolve('aborted');
      else signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    for (;;) {
      yield view;
      if (isFinished(view) || signal.aborted) return;
      if ((await Promise.race([watch.changed().then(() => 'changed' as const), aborted])) === 'aborted') return;
      let failure: Error | null = null;
      const next = await queues.get(id, viewer).catch((error: Error) => {
        failure = error;
        return null;
      });
      if (!next) {
        onLostRead?.(failure);
        return;
      }
      view = next;
    }
  } finally {
    watch.close();
  }
}

/** The job once final, if it gets there within `ms` (and before `signal` aborts); null otherwise. */
export async function waitForFinal(queues: JobQueues, id: string, viewer: Viewer, ms: number, signal: AbortSignal): Promise<StoredJobView | null> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), ms);
  try {
    let last: StoredJobView | null = null;
    for await (const view of followJob(queues, id, viewer, AbortSignal.any([timeout.signal, signal]))) last = view;
    return last && isFinished(last) ? last : null;
  } finally {
    clearTimeout(timer);
  }
}
