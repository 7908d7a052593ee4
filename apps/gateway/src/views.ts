import { createHash } from 'node:crypto';
import { terminalStatuses, type JobView, type StoredJobView } from '@curator/contracts';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import { presignResult } from './presign.ts';

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

  async get(id: string): Promise<JobView | null> {
    const view = await this.queues.get(id);
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
