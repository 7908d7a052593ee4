import type { JobType } from '@curator/contracts';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';

export interface Readiness {
  ready: boolean;
  checks: { redis: string; storage: string; workers: string };
  reasons: string[];
}

async function probe(run: () => Promise<unknown>, timeoutMs = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([run(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)))]);
    return 'ok';
  } catch (error) {
    return (error as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/** Ready = Redis and S3 answer, and for each job type a live worker reports it holds the models. */
export async function checkReadiness(deps: { queues: JobQueues; storage: ObjectStorage; jobTypes: JobType[] }): Promise<Readiness> {
  const [redis, storage] = await Promise.all([probe(() => deps.queues.ping()), probe(() => deps.storage.ping())]);
  const reasons: string[] = [];
  if (redis !== 'ok') reasons.push(`redis: ${redis}`);
  if (storage !== 'ok') reasons.push(`storage: ${storage}`);
  let workers = 'unknown';
  if (redis === 'ok') {
    const live = await deps.queues.workers();
    const covered = new Set(live.filter((w) => w.ready).flatMap((w) => w.jobTypes));
    const missing = deps.jobTypes.filter((type) => !covered.has(type));
    workers = missing.length === 0 ? 'ok' : `no ready worker for ${missing.join(', ')}`;
    if (missing.length > 0) reasons.push(`workers: ${workers}`);
  }
  return { ready: reasons.length === 0, checks: { redis, storage, workers }, reasons };
}
