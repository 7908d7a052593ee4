import type { JobView } from '@curator/client';
import { isCurate, ResultCard } from './card.tsx';
import { shortId, stageLabel, statusLabel } from './format.ts';
import { Progress } from './job.tsx';
import { changedKnobs } from './knobs.ts';
import type { JobNote } from './store.ts';
import type { KnownJob } from './history.tsx';
import { isJob } from './history.tsx';

function Column({ name, id, job }: { name: string; id: string; job: KnownJob | undefined }) {
  return (
    <div class="compare-column">
      <h3>
        {name}: <a href={`#/jobs/${id}`}>job {shortId(id)}</a>
      </h3>
      {!job ? <p class="hint">Loading…</p> : !isJob(job) ? <p>This job no longer exists on the server.</p> : <RunView job={job} />}
    </div>
  );
}

function RunView({ job }: { job: JobView }) {
  if (job.status === 'succeeded' && isCurate(job)) return <ResultCard job={job} compact />;
  return (
    <>
      <p>
        <span class={`status-chip ${job.status}`}>{statusLabel(job.status)}</span>
      </p>
      <Progress job={job} />
    </>
  );
}

const show = (value: unknown) => (value === undefined || value === '' ? '(default)' : String(value));

/** Two runs side by side: what changed between their requests, and what each made. */
export function Compare({ ids, jobs, notes, headingRef }: { ids: readonly [string, string]; jobs: Readonly<Record<string, KnownJob>>; notes: readonly JobNote[]; headingRef: { current: HTMLHeadingElement | null } }) {
  const [a, b] = ids;
  const requestA = notes.find((note) => note.id === a)?.request;
  const requestB = notes.find((note) => note.id === b)?.request;
  const changes = requestA && requestB ? changedKnobs(requestA, requestB) : null;
  const jobB = jobs[b];
  const reused = isJob(jobB) ? jobB.stages.filter((stage) => stage.cached).map((stage) => stageLabel(stage.name)) : [];
  return (
    <section class="compare" aria-labelledby="compare-title">
      <h2 id="compare-title" tabIndex={-1} ref={headingRef}>
        Two runs side by side
      </h2>
      {changes === null ? (
        <p class="hint">The requests of these jobs were not made in this browser, so their knobs cannot be compared.</p>
      ) : changes.length === 0 ? (
        <p>Both runs asked for the same knobs.</p>
      ) : (
        <table class="changes">
          <caption>What changed</caption>
          <thead>
            <tr>
              <th scope="col">Knob</th>
              <th scope="col">Run A</th>
              <th scope="col">Run B</th>
            </tr>
          </thead>
          <tbody>
            {changes.map(({ knob, before, after }) => (
              <tr key={knob.path}>
                <th scope="row">
                  {knob.label} <code>{knob.path}</code>
                </th>
                <td>{show(before)}</td>
                <td>{show(after)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {reused.length > 0 ? <p class="cache-line">Run B reused from the cache: {reused.join(', ')}.</p> : null}
      <div class="compare-grid">
        <Column name="Run A" id={a} job={jobs[a]} />
        <Column name="Run B" id={b} job={jobB} />
      </div>
    </section>
  );
}
