import { useState } from 'preact/hooks';
import type { JobNotFound, JobView } from '@curator/client';
import { formatTime, shortId, statusLabel } from './format.ts';
import type { Problem } from './messages.ts';
import { ProblemBox } from './problem.tsx';
import type { JobNote } from './store.ts';

export type KnownJob = JobView | JobNotFound;
export const isJob = (value: KnownJob | undefined): value is JobView => value !== undefined && 'status' in value;

/** A line that says which job this is: its headline once made, else what was submitted, else its type. */
function describeJob(job: JobView, note: JobNote | undefined): string {
  if (job.type === 'curate' && job.result) return job.result.headline;
  const input = note?.request?.input as { url?: string; text?: string; title?: string; prompt?: string } | undefined;
  const text = input?.title ?? input?.url ?? input?.text ?? input?.prompt ?? '';
  if (text) return text.length > 90 ? `${text.slice(0, 89)}…` : text;
  return `A ${job.type} job`;
}

interface HistoryProps {
  /** The caller's jobs as the API lists them, newest first. */
  ids: readonly string[];
  jobs: Readonly<Record<string, KnownJob>>;
  notes: readonly JobNote[];
  /** More pages to read (`nextCursor`). */
  more: boolean;
  loading: boolean;
  problem: Problem | null;
  onRefresh: () => void;
  onMore: () => void;
  onCompare: (a: string, b: string) => void;
}

export function History({ ids, jobs, notes, more, loading, problem, onRefresh, onMore, onCompare }: HistoryProps) {
  const [picked, setPicked] = useState<string[]>([]);
  const toggle = (id: string) => setPicked((now) => (now.includes(id) ? now.filter((x) => x !== id) : [...now, id].slice(-2)));
  const listed = ids.map((id) => jobs[id]).filter(isJob);
  return (
    <section class="history" aria-labelledby="history-title" aria-busy={loading}>
      <div class="section-head">
        <h2 id="history-title">Your jobs</h2>
        <button type="button" class="secondary" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      <p class="hint">Your jobs, newest first, as the API lists them (with an API key: that key's jobs). Pick two to see them side by side.</p>
      {problem ? <ProblemBox problem={problem} /> : null}
      {listed.length === 0 ? (
        <p>{loading ? 'Loading your jobs…' : 'No jobs yet: make a card and it shows up here.'}</p>
      ) : (
        <ul class="history-list">
          {listed.map((job) => {
            const note = notes.find((entry) => entry.id === job.id);
            const thumb = job.type === 'curate' && job.result ? job.result.image.card : null;
            const rerunOf = job.rerunOf ?? note?.rerunOf;
            return (
              <li key={job.id} class="history-item">
                <span class="pick">
                  <input type="checkbox" id={`pick-${job.id}`} checked={picked.includes(job.id)} onChange={() => toggle(job.id)} />
                  <label for={`pick-${job.id}`}>
                    <span class="sr-only">Compare job {shortId(job.id)}</span>
                    <span aria-hidden="true">Compare</span>
                  </label>
                </span>
                {thumb ? <img class="thumb" src={thumb.url} width={48} height={Math.round((48 * thumb.height) / thumb.width)} alt="" /> : <span class="thumb placeholder" aria-hidden="true" />}
                <a class="history-open" href={`#/jobs/${job.id}`}>
                  <span class="history-title">{describeJob(job, note)}</span>
                  <span class="history-meta">
                    job {shortId(job.id)} · {formatTime(job.createdAt)}
                    {rerunOf ? ` · rerun of ${shortId(rerunOf)}` : ''}
                  </span>
                </a>
                <span class={`status-chip ${job.status}`}>{statusLabel(job.status)}</span>
              </li>
            );
          })}
        </ul>
      )}
      <div class="row">
        <button type="button" disabled={picked.length !== 2} onClick={() => picked.length === 2 && onCompare(picked[0]!, picked[1]!)}>
          Compare the two picked jobs
        </button>
        {more ? (
          <button type="button" class="secondary" disabled={loading} onClick={onMore}>
            Show older jobs
          </button>
        ) : null}
        <span class="hint" aria-live="polite">
          {picked.length === 2 ? 'Two picked.' : picked.length === 1 ? 'Pick one more.' : ''}
        </span>
      </div>
    </section>
  );
}
