import { useEffect, useRef, useState } from 'preact/hooks';
import { isFinished, type JobView, type Stage } from '@curator/client';
import { isCurate, ResultCard } from './card.tsx';
import { formatDuration, shortId, stageLabel, statusLabel } from './format.ts';
import { describeProblem, type Problem } from './messages.ts';
import { ProblemBox } from './problem.tsx';
import type { JobNote } from './store.ts';

const stageIcons: Record<Stage['status'], string> = { pending: '○', running: '◔', succeeded: '✓', failed: '✕', skipped: '–' };
const stageStates: Record<Stage['status'], string> = { pending: 'waiting', running: 'running', succeeded: 'done', failed: 'failed', skipped: 'skipped' };

/** When each running stage was first seen running (the API gives a stage's time once it ends). */
function useStageClock(job: JobView): { elapsed: (stage: Stage) => number | null } {
  const starts = useRef<{ id: string; at: Record<string, number> }>({ id: job.id, at: {} });
  const [, setTick] = useState(0);
  if (starts.current.id !== job.id) starts.current = { id: job.id, at: {} };
  for (const stage of job.stages) if (stage.status === 'running') starts.current.at[stage.name] ??= performance.now();
  const running = !isFinished(job);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setTick((n) => n + 1), 250);
    return () => clearInterval(timer);
  }, [running, job.id]);
  return {
    elapsed: (stage) => {
      const start = starts.current.at[stage.name];
      return stage.status === 'running' && start !== undefined ? performance.now() - start : null;
    },
  };
}

/** One sentence for screen readers, which changes only when a stage ends (not on every percent). */
function announcement(job: JobView): string {
  if (job.status === 'succeeded') return 'The job is done.';
  if (job.status === 'failed') return 'The job failed.';
  if (job.status === 'canceled') return 'The job was canceled.';
  if (job.status === 'expired') return 'The job expired before a worker took it.';
  if (job.stages.length === 0) return 'Waiting for a worker.';
  const done = job.stages.filter((stage) => stage.status === 'succeeded' || stage.status === 'skipped').length;
  return `${done} of ${job.stages.length} stages done.`;
}

/** Live progress per stage. Rows and widths are fixed, so nothing moves while it updates. */
export function Progress({ job }: { job: JobView }) {
  const clock = useStageClock(job);
  const percent = Math.round(job.progress.percent);
  return (
    <div class="progress">
      <div class="progress-head">
        <span class="progress-stage">{job.progress.stage ? stageLabel(job.progress.stage) : statusLabel(job.status)}</span>
        <span class="num">{percent}%</span>
      </div>
      <progress max={100} value={percent} aria-label="Progress of the job" />
      <p class="progress-detail">{job.progress.detail ?? '\u00a0'}</p>
      <ol class="stages" aria-label="Stages">
        {job.stages.length === 0 ? (
          <li class="stage pending">
            <span class="stage-icon" aria-hidden="true">
              ○
            </span>
            <span class="stage-name">Waiting for a worker to take the job…</span>
          </li>
        ) : (
          job.stages.map((stage) => (
            <li key={stage.name} class={`stage ${stage.status}`}>
              <span class="stage-icon" aria-hidden="true">
                {stageIcons[stage.status]}
              </span>
              <span class="stage-name">{stageLabel(stage.name)}</span>
              <span class="stage-state">{stage.cached ? <span class="badge cached">from cache</span> : stageStates[stage.status]}</span>
              <span class="stage-time num">{stage.durationMs !== null ? formatDuration(stage.durationMs) : stage.status === 'running' ? formatDuration(clock.elapsed(stage)) : ''}</span>
            </li>
          ))
        )}
      </ol>
      <p class="sr-only" aria-live="polite">
        {announcement(job)}
      </p>
    </div>
  );
}

interface JobPanelProps {
  id: string;
  job: JobView | undefined;
  note: JobNote | undefined;
  problem: Problem | null;
  headingRef: { current: HTMLHeadingElement | null };
  onCancel: (id: string) => Promise<Problem | null>;
  onRetry: (id: string) => Promise<Problem | null>;
  onRerun: (job: JobView) => void;
}

/** A button that runs an API call and shows its refusal underneath. */
function useAction(id: string) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    setBusy(false);
    setProblem(null);
  }, [id]);
  const run = async (action: () => Promise<Problem | null>, keepBusy: boolean) => {
    setBusy(true);
    const failed = await action();
    setProblem(failed);
    if (failed || !keepBusy) setBusy(false);
  };
  return { busy, problem, run };
}

export function JobPanel({ id, job, note, problem, headingRef, onCancel, onRetry, onRerun }: JobPanelProps) {
  const cancel = useAction(id);
  const retry = useAction(id);
  const finished = job ? isFinished(job) : false;
  const rerunOf = job?.rerunOf ?? note?.rerunOf;
  return (
    <section class="job-panel" aria-labelledby="job-title">
      <div class="job-head">
        <h2 id="job-title" tabIndex={-1} ref={headingRef}>
          Job <code>{shortId(id)}</code>
        </h2>
        {job ? <span class={`status-chip ${job.status}`}>{statusLabel(job.status)}</span> : null}
      </div>
      {rerunOf ? (
        <p class="rerun-of">
          Rerun of <a href={`#/jobs/${rerunOf}`}>job {shortId(rerunOf)}</a> · <a href={`#/compare/${rerunOf},${id}`}>Compare the two runs</a>
        </p>
      ) : null}
      {note?.reusedStages ? (
        <p class="reused-line">
          {note.reusedStages.length > 0 ? `Reused from the first run, not run again: ${note.reusedStages.map(stageLabel).join(', ')}.` : 'Every stage runs again: each one has a changed input.'}
        </p>
      ) : null}
      {problem ? <ProblemBox problem={problem} /> : null}
      {!job ? (
        problem ? null : <p class="hint">Loading the job…</p>
      ) : (
        <>
          {job.status !== 'succeeded' ? <Progress job={job} /> : null}
          {!finished ? (
            <div class="row">
              <button type="button" class="danger" disabled={cancel.busy} onClick={() => void cancel.run(() => onCancel(id), true)}>
                {cancel.busy ? 'Canceling…' : 'Cancel the job'}
              </button>
            </div>
          ) : null}
          {cancel.problem ? <ProblemBox problem={cancel.problem} alert /> : null}
          {(job.status === 'failed' || job.status === 'expired') && job.error ? <ProblemBox problem={describeProblem(job.error.code, job.error.message)} /> : null}
          {job.status === 'succeeded' && isCurate(job) ? <ResultCard job={job} /> : null}
          {job.status === 'succeeded' && !isCurate(job) ? <pre class="raw-result">{JSON.stringify(job.result, null, 2)}</pre> : null}
          {finished ? (
            <div class="row">
              {isCurate(job) ? (
                <button type="button" class="secondary" onClick={() => onRerun(job)}>
                  Rerun with changes
                </button>
              ) : null}
              {job.status === 'failed' || job.status === 'expired' ? (
                <button type="button" class="secondary" disabled={retry.busy} onClick={() => void retry.run(() => onRetry(id), false)}>
                  {retry.busy ? 'Trying again…' : 'Try again'}
                </button>
              ) : null}
            </div>
          ) : null}
          {retry.problem ? <ProblemBox problem={retry.problem} alert /> : null}
        </>
      )}
    </section>
  );
}
