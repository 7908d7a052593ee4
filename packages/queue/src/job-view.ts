import type { Job } from 'bullmq';
import type { JobStatus, JobType, Stage, StoredJobView, JobFields } from '@curator/contracts';
import { decodeFailure, type JobData, type JobProgressData, type JobReturn } from './job-data.ts';

export type BullState = Awaited<ReturnType<Job['getState']>>;
export type JobLinks = (id: string) => JobFields['links'];

export const defaultLinks: JobLinks = (id) => ({ self: `/jobs/${id}`, events: `/jobs/${id}/events` });

function statusOf(state: BullState, failedCode: string | undefined, started: boolean): JobStatus {
  switch (state) {
    case 'completed':
      return 'succeeded';
    case 'failed':
      return failedCode === 'canceled' ? 'canceled' : failedCode === 'deadline_exceeded' ? 'expired' : 'failed';
    case 'active':
    case 'waiting-children':
      // Waiting for its stages in another pool: the job is under way.
      return 'running';
    default:
      // Back in the queue after it started (a parent whose child is done, a retry after a transient
      // failure, a job handed back on shutdown): still under way for its client, never queued again.
      return started ? 'running' : 'queued';
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

const finalStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];

/** The view of a job, read from the job itself (never from the trimmed event stream). */
export function toJobView(job: Job<JobData, JobReturn>, state: BullState, links: JobLinks, defaultTtlSeconds: number): StoredJobView {
  const id = job.id!;
  const data = job.data;
  const failure = state === 'failed' ? decodeFailure(job.failedReason) : null;
  const progress = asProgress(job.progress);
  const status = statusOf(state, failure?.code, progress !== null);
  const returned = state === 'completed' ? job.returnvalue : null;
  const stages: Stage[] = returned?.stages ?? progress?.stages ?? [];
  const maxAttempts = job.opts.attempts ?? 1;
  const finished = finalStatuses.includes(status);
  // A parent back in the queue after its child finished is still in the attempt it started.
  const underWay = state === 'active' || state === 'waiting-children' || (status === 'running' && data.checkpoints !== undefined && state !== 'delayed');
  const startedMs = progress?.startedAt ?? (status === 'expired' ? undefined : job.processedOn);
  const queuedMs = Date.parse(data.queuedAt ?? data.submittedAt);
  const finishedMs = finished ? job.finishedOn : undefined;
  const ttlSeconds = data.request.ttlSeconds ?? defaultTtlSeconds;
  return {
    id,
    type: data.request.type as JobType,
    status,
    progress:
      status === 'succeeded'
        ? { percent: 100, stage: null }
        : progress
          ? { percent: progress.percent, stage: status === 'running' ? progress.stage : null, ...(progress.detail ? { detail: progress.detail } : {}) }
          : { percent: 0, stage: null },
    stages,
    attempts: { made: Math.min(attemptsUsed(job, underWay), maxAttempts), max: maxAttempts },
    // The worker parsed the result against its type's contract before it was stored.
    result: (returned?.result ?? null) as never,
    error: failure,
    createdAt: iso(job.timestamp)!,
    startedAt: iso(startedMs),
    finishedAt: finished ? iso(job.finishedOn) : null,
    deadline: data.request.deadline ? new Date(data.request.deadline).toISOString() : null,
    expiresAt: finishedMs ? iso(finishedMs + ttlSeconds * 1000) : null,
    queueWaitMs: startedMs && Number.isFinite(queuedMs) ? Math.max(0, startedMs - queuedMs) : null,
    runMs: startedMs && finishedMs ? Math.max(0, finishedMs - startedMs) : null,
    rerunOf: data.rerunOf ?? null,
    history: data.history ?? [],
    // Deliveries are read beside the job (JobQueues.read); the view names the webhook either way.
    webhook: data.request.webhook ? { url: data.request.webhook.url, events: [...data.request.webhook.events], deliveries: [] } : null,
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
