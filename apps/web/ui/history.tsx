import { useState } from 'preact/hooks';
import type { JobNotFound, JobView } from '@curator/client';
import { formatTime, shortId, statusLabel } from './format.ts';
import type { Problem } from './messages.ts';
import { ProblemBox } from './problem.tsx';
import type { HistoryEntry } from './store.ts';

export type KnownJob = JobView | JobNotFound;
export const isJob = (value: KnownJob | undefined): value is JobView => value !== undefined && 'status' in value;

/** A line that says which job this is: its headline once made, else what was submitted. */
function describeEntry(entry: HistoryEntry, job: KnownJob | undefined): string {
  if (isJob(job) && job.type === 'curate' && job.result) return job.result.headline;
  const input = entry.request.input as { url?: string; text?: string; title?: string };
  const text = input.title ?? input.url ?? input.text ?? '';
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

interface HistoryProps {
  entries: readonly HistoryEntry[];
  jobs: Readonly<Record<string, KnownJob>>;
  problem: Problem | null;
  onRefresh: () => void;
  onForget: (id: string) => void;
  onCompare: (a: string, b: string) => void;
}

export function History({ entries, jobs, problem, onRefresh, onForget, onCompare }: HistoryProps) {
  const [picked, setPicked] = useState<string[]>([]);
  const toggle = (id: string) => setPicked((now) => (now.includes(id) ? now.filter((x) => x !== id) : [...now, id].slice(-2)));
  return (
    <section class="history" aria-labelledby="history-title">
      <div class="section-head">
        <h2 id="history-title">Your jobs</h2>
        <button type="button" class="secondary" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      <p class="hint">Jobs submitted from this browser, read from the API. Pick two to see them side by side.</p>
      {problem ? <ProblemBox problem={problem} /> : null}
      {entries.length === 0 ? (
        <p>No jobs yet: make a card and it shows up here.</p>
      ) : (
        <ul class="history-list">
          {entries.map((entry) => {
            const job = jobs[entry.id];
            const gone = job !== undefined && !isJob(job);
            const thumb = isJob(job) && job.type === 'curate' && job.result ? job.result.image.card : null;
            return (
              <li key={entry.id} class="history-item">
                <span class="pick">
                  <input type="checkbox" id={`pick-${entry.id}`} checked={picked.includes(entry.id)} onChange={() => toggle(entry.id)} disabled={gone} />
                  <label for={`pick-${entry.id}`}>
                    <span class="sr-only">Compare job {shortId(entry.id)}</span>
                    <span aria-hidden="true">Compare</span>
                  </label>
                </span>
                {thumb ? <img class="thumb" src={thumb.url} width={48} height={Math.round((48 * thumb.height) / thumb.width)} alt="" /> : <span class="thumb placeholder" aria-hidden="true" />}
                <a class="history-open" href={`#/jobs/${entry.id}`}>
                  <span class="history-title">{describeEntry(entry, job) || `Job ${shortId(entry.id)}`}</span>
                  <span class="history-meta">
                    job {shortId(entry.id)} · {formatTime(entry.submittedAt)}
                    {entry.rerunOf ? ` · rerun of ${shortId(entry.rerunOf)}` : ''}
                  </span>
                </a>
                <span class={`status-chip ${isJob(job) ? job.status : gone ? 'expired' : 'unknown'}`}>{isJob(job) ? statusLabel(job.status) : gone ? 'Expired' : '…'}</span>
                {gone ? (
                  <button type="button" class="secondary small" onClick={() => onForget(entry.id)}>
                    Forget <span class="sr-only">job {shortId(entry.id)}</span>
                  </button>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
      <div class="row">
        <button type="button" disabled={picked.length !== 2} onClick={() => picked.length === 2 && onCompare(picked[0]!, picked[1]!)}>
          Compare the two picked jobs
        </button>
        <span class="hint" aria-live="polite">
          {picked.length === 2 ? 'Two picked.' : picked.length === 1 ? 'Pick one more.' : ''}
        </span>
      </div>
    </section>
  );
}
