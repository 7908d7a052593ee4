// Following a job live from its event stream: a progress bar of its stages on a terminal, a line per
// change of stage otherwise (logs, pipes), nothing with --json (stdout holds the one document).
import type { Command } from 'commander';
import { isFinished, type CuratorClient, type JobAccepted, type JobStreamEvent, type JobView, type RerunAccepted, type Stage } from '@curator/client';
import { createMultiBar, drawsBars, type MultiBar, type ProgressBar } from './progress.ts';
import { downloadPictures } from './job-files.ts';
import { formatAccepted, formatJob, stageLine } from './job-view.ts';
import { printJson, settleExitCode, writeLine, type CliIo } from './output.ts';

export interface JobProgressView {
  update(job: JobView): void;
  stop(): void;
}

/**
 * What is new in a job's state: a status it had not had before (a curate job goes back to `queued`
 * while its picture waits for an image worker: not news), stages that started and stages that ended.
 */
class Changes {
  #statuses = new Set<string>();
  #started = new Set<string>();
  #ended = new Set<string>();

  next(job: JobView): { status: boolean; started: Stage[]; ended: Stage[] } {
    const status = !this.#statuses.has(job.status);
    this.#statuses.add(job.status);
    const started = job.stages.filter((stage) => stage.status === 'running' && !this.#started.has(stage.name));
    const ended = job.stages.filter((stage) => isStageDone(stage) && !this.#ended.has(stage.name));
    for (const stage of started) this.#started.add(stage.name);
    for (const stage of ended) this.#ended.add(stage.name);
    return { status, started, ended };
  }
}

const isStageDone = (stage: Stage) => stage.status === 'succeeded' || stage.status === 'failed' || stage.status === 'skipped';
const nameWidth = (job: JobView) => Math.max(0, ...job.stages.map((stage) => stage.name.length));

/** One bar for the job (percent, the stage running and its detail); a line above it per stage that ends. */
function barView(stream: NodeJS.WritableStream): JobProgressView {
  let multibar: MultiBar | null = null;
  let bar: ProgressBar | null = null;
  const changes = new Changes();
  // cli-progress prints logged lines on its next redraw; those of the last state come after stop().
  let unprinted: string[] = [];
  return {
    update(job) {
      multibar ??= createMultiBar(stream, { format: ' {bar} {percentage}% | {stages} | {status} {stage} {detail}' });
      const done = job.stages.filter(isStageDone).length;
      const payload = { stages: `${done}/${job.stages.length || '?'} stages`, status: job.status, stage: job.progress.stage ?? '', detail: job.progress.detail ?? '' };
      const value = Math.round(job.progress.percent);
      if (bar) bar.update(value, payload);
      else bar = multibar.create(100, value, payload);
      unprinted = changes.next(job).ended.map((stage) => stageLine(stage, nameWidth(job)));
      if (!isFinished(job)) for (const line of unprinted.splice(0)) multibar.log(`${line}\n`);
    },
    stop() {
      multibar?.stop();
      for (const line of unprinted) writeLine(stream, line);
    },
  };
}

/** A line when the job reaches a new status and when a stage starts or ends. */
function lineView(stream: NodeJS.WritableStream): JobProgressView {
  const changes = new Changes();
  return {
    update(job) {
      const { status, started, ended } = changes.next(job);
      if (status) writeLine(stream, `job ${job.id} ${job.status}`);
      for (const stage of [...ended, ...started]) writeLine(stream, stageLine(stage, nameWidth(job)));
    },
    stop: () => undefined,
  };
}

const silentView: JobProgressView = { update: () => undefined, stop: () => undefined };

/** The progress view a command shows on stdout: bars on a terminal, lines elsewhere, none with --json. */
export function progressView(io: CliIo, json: boolean): JobProgressView {
  if (json) return silentView;
  return drawsBars(io.stdout) ? barView(io.stdout) : lineView(io.stdout);
}

/** Follows job `id` until it ends, showing its progress; resolves with its final state. */
export async function followJob(client: CuratorClient, id: string, view: JobProgressView, onEvent?: (event: JobStreamEvent) => void): Promise<JobView> {
  let last: JobView | null = null;
  try {
    for await (const event of client.events(id)) {
      onEvent?.(event);
      view.update(event.job);
      last = event.job;
    }
  } finally {
    view.stop();
  }
  // A stream resumed after its final event yields nothing more: the job as it is now is the answer.
  return last && isFinished(last) ? last : client.get(id);
}

export interface FollowFlags {
  wait?: boolean;
  out?: string;
  json?: boolean;
}

/** --wait and --out, for the commands that start a job (submit, rerun, retry). */
export function withFollowOptions(command: Command): Command {
  return command
    .option('--wait', 'follow the job until it ends (a progress bar of its stages on a terminal), then print it')
    .option('--out <path>', 'download the card and picture (a folder) or the card (a file) once the job is done; implies --wait');
}

/**
 * The job once it has ended: downloaded with --out, printed (JSON or text), and the exit code
 * set by how it ended.
 */
export async function showFinished(io: CliIo, job: JobView, flags: FollowFlags, print = true): Promise<void> {
  const files = flags.out !== undefined && job.status === 'succeeded' ? await downloadPictures(job, flags.out) : [];
  if (print && flags.json) printJson(io, job);
  else if (print) writeLine(io.stdout, formatJob(job));
  // With --json stdout holds the one document; where the files went is said on stderr.
  for (const file of files) writeLine(flags.json ? io.stderr : io.stdout, `saved ${file}`);
  settleExitCode(io, job);
}

/** What a command that started a job shows: the accepted job, or with --wait/--out the job followed to its end. */
export async function showStarted(io: CliIo, client: CuratorClient, accepted: JobAccepted | RerunAccepted | JobView, flags: FollowFlags): Promise<void> {
  const follow = flags.wait === true || flags.out !== undefined;
  if ('stages' in accepted && isFinished(accepted)) return showFinished(io, accepted, flags);
  if (!follow) {
    if (flags.json) printJson(io, accepted);
    else writeLine(io.stdout, 'stages' in accepted ? formatJob(accepted) : formatAccepted(accepted));
    return;
  }
  if (!flags.json && !('stages' in accepted)) writeLine(io.stdout, formatAccepted(accepted).split('\n').filter((line) => !line.startsWith('follow it:')).join('\n'));
  await showFinished(io, await followJob(client, accepted.id, progressView(io, flags.json === true)), flags);
}
