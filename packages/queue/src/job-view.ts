import type { Job } from 'bullmq';
import type { JobStatus, JobView, Stage, JobType } from '@curator/contracts';
import { decodeFailure, type JobData, type JobProgressData, type JobReturn } from './job-data.ts';

type BullState = Awaited<ReturnType<Job['getState']>>;

function statusOf(state: BullState, failedCode: string | undefined): JobStatus {
  switch (state) {
    case 'completed':
      return 'succeeded';
    case 'failed':
      return failedCode === 'canceled' ? 'canceled' : 'failed';
    case 'active':
    case 'waiting-children':
      // Waiting for its image stages in the other pool: the job is under way.
      return 'running';
    default:
      return 'queued';
  }
}

const iso = (ms: number | undefined | null) => (ms ? new Date(ms).toISOString() : null);

function asProgress(value: unknown): JobProgressData | null {
  if (value && typeof value === 'object' && 'percent' in value) return value as JobProgressData;
  return null;
}

/** The public view of a job, read from the job itself (not from the trimmed event stream). */
export function toJobView(job: Job<JobData, JobReturn>, state: BullState, links: (id: string) => JobView['links']): JobView {
  const id = job.id!;
  const failure = state === 'failed' ? decodeFailure(job.failedReason) : null;
  const status = statusOf(state, failure?.code);
  const progress = asProgress(job.progress);
  const returned = state === 'completed' ? job.returnvalue : null;
  const stages: Stage[] = returned?.stages ?? progress?.stages ?? [];
  const maxAttempts = job.opts.attempts ?? 1;
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
    // attemptsMade counts finished attempts (failed or completed); attemptsStarted would also count
    // restarts that are not attempts (after waiting for child jobs, after a stall).
    attempts: { made: Math.min(status === 'running' ? job.attemptsMade + 1 : job.attemptsMade, maxAttempts), max: maxAttempts },
    result: returned?.result ?? null,
    error: failure,
    createdAt: iso(job.timestamp)!,
    startedAt: iso(job.processedOn),
    finishedAt: status === 'succeeded' || status === 'failed' || status === 'canceled' ? iso(job.finishedOn) : null,
    links: links(id),
  };
}
