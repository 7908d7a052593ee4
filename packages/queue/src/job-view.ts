import type { Job } from 'bullmq';
import type { JobStatus, JobType, Stage, StoredJobView, JobFields } from '@curator/contracts';
import { decodeFailure, type JobData, type JobProgressData, type JobReturn } from './job-data.ts';

export type BullState = Awaited<ReturnType<Job['getState']>>;
export type JobLinks = (id: string) => JobFields['links'];

export const defaultLinks: JobLinks = (id) => ({ self: `/jobs/${id}`, events: `/jobs/${id}/events` });

function statusOf(state: BullState, failedCode: string | undefined): JobStatus {
  switch (state) {
    case 'completed':
      return 'succeeded';
    case 'failed':
      return failedCode === 'canceled' ? 'canceled' : 'failed';
    case 'active':
    case 'waiting-children':
      // Waiting for its stages in another pool: the job is under way.
      return 'running';
    default:
      return 'queued';
  }
}

const iso = (ms: number | undefined | null) => (ms ? new Date(ms).toISOString() : null);

export function asProgress(value: unknown): JobProgressData | null {
  if (value && typeof value === 'object' && 'percent' in value && 'stages' in value) return value as JobProgressData;
  return null;
}

/**
 * Attempts a job has used: the finished ones, plus each time its worker died mid-job (a stall),
 * plus the one under way.
 */
export function attemptsUsed(job: Pick<Job, 'attemptsMade' | 'stalledCounter'>, running: boolean): number {
  return job.attemptsMade + (job.stalledCounter ?? 0) + (running ? 1 : 0);
}

/** The view of a job, read from the job itself (never from the trimmed event stream). */
export function toJobView(job: Job<JobData, JobReturn>, state: BullState, links: JobLinks): StoredJobView {
  const id = job.id!;
  const failure = state === 'failed' ? decodeFailure(job.failedReason) : null;
  const status = statusOf(state, failure?.code);
  const progress = asProgress(job.progress);
  const returned = state === 'completed' ? job.returnvalue : null;
  const stages: Stage[] = returned?.stages ?? progress?.stages ?? [];
  const maxAttempts = job.opts.attempts ?? 1;
  const finished = status === 'succeeded' || status === 'failed' || status === 'canceled';
  return {
    id,
    type: job.data.request.type as JobType,
    status,
    progress:
      status === 'succeeded'
        ? { percent: 100, stage: null }
        : progress
          ? { percent: progress.percent, stage: status === 'running' ? progress.stage : null, ...(progress.detail ? { detail: progress.detail } : {}) }
          : { percent: 0, stage: null },
    stages,
    attempts: { made: Math.min(attemptsUsed(job, status === 'running'), maxAttempts), max: maxAttempts },
    // The worker parsed the result against its type's contract before it was stored.
    result: (returned?.result ?? null) as never,
    error: failure,
    createdAt: iso(job.timestamp)!,
    startedAt: iso(job.processedOn),
    finishedAt: finished ? iso(job.finishedOn) : null,
    links: links(id),
  } satisfies StoredJobView;
}

/**
 * While a job waits for its child (its stages in another pool), the child's live stages and
 * progress are the job's: the parent's stage list takes the child's entries of the same names.
 */
export function withChildProgress(view: StoredJobView, child: JobProgressData): StoredJobView {
  const byName = new Map(child.stages.map((stage) => [stage.name, stage]));
  const stages = view.stages.map((stage) => {
    const fromChild = byName.get(stage.name);
    return fromChild && fromChild.status !== 'pending' ? { ...fromChild } : stage;
  });
  const isDone = (s: Stage) => s.status === 'succeeded' || s.status === 'skipped';
  const running = stages.find((s) => s.status === 'running');
  // The part of the child's running stage already done, from the child's own percent.
  const runningFraction = Math.max(0, (child.percent / 100) * child.stages.length - child.stages.filter(isDone).length);
  const percent = Math.min(99.9, Math.round(((stages.filter(isDone).length + Math.min(1, runningFraction)) / Math.max(1, stages.length)) * 1000) / 10);
  return {
    ...view,
    stages,
    progress: { percent, stage: running?.name ?? null, ...(child.detail ? { detail: child.detail } : {}) },
  };
}
