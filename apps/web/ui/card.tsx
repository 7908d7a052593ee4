import type { JobView, JobViewOf, Stage } from '@curator/client';
import { formatDuration, formatPercent, shortId, stageLabel } from './format.ts';

export type CurateJob = JobViewOf<'curate'>;
export const isCurate = (job: JobView): job is CurateJob => job.type === 'curate';

/** Scores as a small bar chart: the bars are drawn (SVG attributes, allowed by the CSP); the numbers are text. */
export function ScoreChart({ task, label, scores, headingId }: { task: string; label: string; scores: Record<string, number>; headingId: string }) {
  const rows = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  return (
    <section class="scores" aria-labelledby={headingId}>
      <h4 id={headingId}>
        {task === 'genre' ? 'Genre' : 'Sentiment'}: <strong>{label}</strong>
      </h4>
      <ul>
        {rows.map(([name, score]) => (
          <li key={name} class={name === label ? 'top' : undefined}>
            <span class="score-name">{name}</span>
            <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
              <rect class="bar-track" width="100" height="10" />
              <rect class="bar-fill" width={Math.max(0, Math.min(100, score * 100)).toFixed(2)} height="10" />
            </svg>
            <span class="score-value">{formatPercent(score)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Stage, time, whether it came from the cache, and the model: as the job reports them. */
export function StageTable({ stages, caption }: { stages: readonly Stage[]; caption: string }) {
  return (
    <table class="stage-table">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Stage</th>
          <th scope="col">Time</th>
          <th scope="col">Source</th>
          <th scope="col" class="model">
            Model
          </th>
        </tr>
      </thead>
      <tbody>
        {stages.map((stage) => (
          <tr key={stage.name}>
            <th scope="row">{stageLabel(stage.name)}</th>
            <td class="num">{stage.status === 'skipped' ? 'skipped' : formatDuration(stage.durationMs)}</td>
            <td>{stage.cached ? <span class="badge cached">from cache</span> : stage.status === 'succeeded' ? 'computed' : stage.status}</td>
            <td class="model">{stage.model ?? '–'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The models that made the result: each stage's, and those the result names. */
export function modelsOf(job: CurateJob): string[] {
  const names = new Set<string>();
  for (const stage of job.stages) if (stage.model) names.add(stage.model);
  if (job.result) {
    names.add(job.result.analysis.model);
    names.add(job.result.image.generation.model);
  }
  return [...names];
}

export function TestModelsMark() {
  return (
    <p class="test-models" role="note">
      <strong>Test models.</strong> Made by the small generated test models (random weights): the words and the picture mean nothing.
    </p>
  );
}

/** The finished card: picture with its text, summary, analysis, timings, cache hits and models. */
export function ResultCard({ job, compact = false }: { job: CurateJob; compact?: boolean }) {
  const result = job.result;
  if (!result) return null;
  const card = result.image.card;
  const prefix = `card-${shortId(job.id)}`;
  const cached = job.stages.filter((stage) => stage.cached).map((stage) => stageLabel(stage.name));
  return (
    <article class={`result-card${compact ? ' compact' : ''}`} aria-labelledby={`${prefix}-headline`}>
      <figure class="card-picture">
        <img src={result.image.cardUrl} width={card.width} height={card.height} alt={`The card: the picture under the text "${result.cardText}"`} />
      </figure>
      {result.models === 'test' ? <TestModelsMark /> : null}
      <h3 id={`${prefix}-headline`} class="headline">
        {result.headline}
      </h3>
      {result.title ? (
        <p class="article-title">
          Article: <cite>{result.title}</cite>
        </p>
      ) : null}
      <p class="summary">{result.summary}</p>
      <ScoreChart task={result.analysis.task} label={result.analysis.label} scores={result.analysis.scores} headingId={`${prefix}-scores`} />
      <p class="cache-line">{cached.length > 0 ? `From the cache: ${cached.join(', ')}.` : 'Every stage was computed for this job.'}</p>
      <StageTable stages={job.stages} caption="Stages" />
      <section class="models" aria-labelledby={`${prefix}-models`}>
        <h4 id={`${prefix}-models`}>Models</h4>
        <ul>
          {modelsOf(job).map((model) => (
            <li key={model}>
              <code>{model}</code>
            </li>
          ))}
        </ul>
        <p class="hint">
          Picture: {result.image.generation.scheduler}, {result.image.generation.steps} steps, guidance {result.image.generation.guidanceScale}, seed {result.image.generation.seed}, {result.image.image.width}×{result.image.image.height} px.
        </p>
      </section>
      <div class="row">
        <a class="button" href={result.image.cardUrl} download={`curator-card-${shortId(job.id)}.png`} target="_blank" rel="noopener">
          Download the card
        </a>
        <a class="button secondary" href={result.image.url} target="_blank" rel="noopener">
          Picture alone
        </a>
      </div>
    </article>
  );
}
