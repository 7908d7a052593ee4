// A job as people read it in a terminal: what it is, how far it got, what it made.
import type { JobAccepted, JobView, RerunAccepted, Stage } from '@curator/client';

const stageMarks: Record<Stage['status'], string> = { pending: '○', running: '…', succeeded: '✓', failed: '✕', skipped: '–' };

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

const percent = (fraction: number) => `${Math.round(fraction * 100)}%`;

/** Left column padded, so the values line up. */
function rows(entries: ReadonlyArray<readonly [string, string]>, indent = '  '): string[] {
  const width = Math.max(...entries.map(([name]) => name.length));
  return entries.map(([name, value]) => `${indent}${name.padEnd(width)}  ${value}`.trimEnd());
}

/** One line per stage: mark, name, time, and whether it came from the cache. */
export function stageLine(stage: Stage, nameWidth = 10): string {
  const time = formatDuration(stage.durationMs);
  const state = stage.status === 'succeeded' || stage.status === 'running' ? '' : stage.status;
  return `  ${stageMarks[stage.status]} ${stage.name.padEnd(nameWidth)} ${[time, state, stage.cached ? 'from cache' : ''].filter(Boolean).join('  ')}`.trimEnd();
}

function resultEntries(job: JobView): Array<readonly [string, string]> {
  if (!job.result) return [];
  switch (job.type) {
    case 'curate': {
      const { result } = job;
      const scores = Object.entries(result.analysis.scores).sort(([, a], [, b]) => b - a);
      return [
        ...(result.title ? [['title', result.title] as const] : []),
        ['headline', result.headline],
        ['summary', result.summary],
        [result.analysis.task, `${result.analysis.label}  (${scores.map(([label, score]) => `${label} ${percent(score)}`).join(', ')})`],
        ['card text', result.cardText],
        ['card', result.image.cardUrl],
        ['picture', result.image.url],
        ['seed', String(result.image.generation.seed)],
      ];
    }
    case 'classify': {
      const scores = Object.entries(job.result.scores).sort(([, a], [, b]) => b - a);
      return [
        [job.result.task, job.result.label],
        ['scores', scores.map(([label, score]) => `${label} ${percent(score)}`).join(', ')],
        ['model', job.result.model],
      ];
    }
    case 'summarize':
    case 'headline':
      return [
        ['text', job.result.text],
        ...(job.result.sequences ?? []).slice(1).map((sequence, i) => [`also #${i + 2}`, sequence.text] as const),
        ['tokens', String(job.result.tokens)],
        ['model', job.result.model],
      ];
    case 'text-to-image':
      return [
        ...job.result.images.map((image, i) => [`image ${i + 1}`, `${image.url}  (${image.width}x${image.height}, seed ${image.seed})`] as const),
        ['scheduler', `${job.result.generation.scheduler}, ${job.result.generation.steps} steps, guidance ${job.result.generation.guidanceScale}`],
      ];
  }
}

const modelsNote = (models: 'real' | 'test'): string => (models === 'test' ? 'test: the generated test models (their text and pictures mean nothing)' : 'real');

/** The whole job, readable: header, timings, stages, result or error. */
export function formatJob(job: JobView): string {
  const lines = [`job ${job.id}  ${job.type}  ${job.status}${job.status === 'running' ? ` ${Math.round(job.progress.percent)}%` : ''}`];
  const timing: Array<[string, string]> = [['created', job.createdAt]];
  if (job.queueWaitMs !== undefined && job.queueWaitMs !== null) timing.push(['queue wait', formatDuration(job.queueWaitMs)]);
  if (job.runMs !== undefined && job.runMs !== null) timing.push(['run', formatDuration(job.runMs)]);
  if (job.rerunOf) timing.push(['rerun of', job.rerunOf]);
  if (job.deadline) timing.push(['deadline', job.deadline]);
  if (job.history && job.history.length > 0) timing.push(['earlier runs', job.history.map((run) => `${run.status}${run.error ? ` (${run.error.code})` : ''}`).join(', ')]);
  lines.push(...rows(timing));
  if (job.stages.length > 0) {
    const width = Math.max(...job.stages.map((stage) => stage.name.length));
    lines.push('stages', ...job.stages.map((stage) => stageLine(stage, width)));
  }
  if (job.result) lines.push('result', ...rows([...resultEntries(job), ['models', modelsNote(job.result.models)]]));
  if (job.error) lines.push('error', `  ${job.error.code}: ${job.error.message}`);
  return lines.join('\n');
}

/** What an accepted job (a submit, retry or rerun answer) says, and how to follow it. */
export function formatAccepted(accepted: JobAccepted | RerunAccepted): string {
  const lines = [`job ${accepted.id}  ${accepted.type}  ${accepted.status}`];
  if ('reusedStages' in accepted) {
    lines.push(...rows([
      ['rerun of', accepted.rerunOf],
      ['reused', accepted.reusedStages.length > 0 ? `${accepted.reusedStages.join(', ')} (inputs unchanged: not run again)` : 'nothing (every stage runs again)'],
    ]));
  }
  lines.push(`follow it: curator watch ${accepted.id}`);
  return lines.join('\n');
}
