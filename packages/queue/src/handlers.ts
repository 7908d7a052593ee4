import type { JobRequestOf, JobType, StoredResultOf } from '@curator/contracts';
import type { StageContext, StageOptions, StageOutcome } from './stage-tracker.ts';

/** What a job's handler gets besides its request: its stages, cancellation, and other pools. */
export interface JobContext {
  readonly id: string;
  /** Whose job it is (an API key id, or `anonymous`); a child job carries its parent's owner. */
  readonly owner: string;
  /** Aborted when the job is canceled or handed back on shutdown. */
  readonly signal: AbortSignal;
  /** For a job that runs another job's stages (a child): its parent and what the parent asked for. */
  readonly parent: { id: string; card: { text: string } | null } | null;
  /**
   * Runs a stage named in `stages()`: it shows as running, its progress and timing reach the
   * job's view, and with a `cacheKey` its outcome is reused by any job with the same inputs.
   */
  stage<R>(name: string, options: StageOptions, work: (stage: StageContext) => Promise<StageOutcome<R>>): Promise<R>;
  /** Marks a stage that does not apply to this job. */
  skip(name: string): void;
  /**
   * Computes a value once per job: kept with the job, so a job that resumes after waiting for a
   * child gets it back (with its stages) instead of computing it again.
   */
  checkpoint<R>(name: string, compute: () => Promise<R>): Promise<R>;
  /**
   * Runs `request` as a child job in the pool of its type and returns its result. The job waits
   * for it without holding a worker slot: the handler is suspended here and runs again from the
   * start when the child is done (so the work before this call belongs in `checkpoint`). The
   * child's stages of the same names become this job's. A child that failed fails this job with
   * the child's own error.
   */
  runChild<C extends JobType>(request: JobRequestOf<C>, options?: { card?: { text: string } }): Promise<StoredResultOf<C>>;
}

/** How one job type runs. Its result is parsed against the type's stored-result contract. */
export interface StageHandler<T extends JobType> {
  /** The stages the job shows, in order. */
  stages(request: JobRequestOf<T>): string[];
  run(request: JobRequestOf<T>, context: JobContext): Promise<StoredResultOf<T>>;
}

export type StageHandlers = { [T in JobType]?: StageHandler<T> };
