import { z } from 'zod';
import { jobRequestSchema, errorInfoSchema, stageSchema, jobAttemptSchema, type ErrorInfo, type Stage, type JobProgress } from '@curator/contracts';

/** Who a job belongs to when nobody said (jobs of an open gateway, jobs from before owners). */
export const anonymousOwner = 'anonymous';

/** What the gateway stores with each BullMQ job; the worker parses it with the same schema. */
export const jobDataSchema = z.object({
  request: jobRequestSchema,
  submittedAt: z.iso.datetime(),
  /** Whose job it is: only this owner (and admins) may see or act on it. */
  owner: z.string().default(anonymousOwner),
  /** When it last went into the queue: its submission, or its last retry. */
  queuedAt: z.iso.datetime().optional(),
  /** Submitted with an Idempotency-Key: the fingerprint of the request it came with. */
  idempotency: z.object({ fingerprint: z.string() }).optional(),
  /** The job this one reruns. */
  rerunOf: z.string().optional(),
  /** Earlier runs under this id (retries), oldest first. */
  history: z.array(jobAttemptSchema).optional(),
  /** Parent job when this job is another job's stages, run in another pool. */
  parentId: z.string().optional(),
  /** For a curate job's image stages: the text to set on the card. */
  card: z.object({ text: z.string().min(1) }).optional(),
  /** Values a job computed before it waited for a child job, with the stages that made them. */
  checkpoints: z.record(z.string(), z.object({ value: z.unknown(), stages: z.array(stageSchema) })).optional(),
});
export type JobData = z.infer<typeof jobDataSchema>;

/**
 * What workers write as BullMQ job progress: the public progress plus the stage list, and when a
 * worker first started this run (kept across BullMQ's own retries and a parent's resumption).
 */
export type JobProgressData = JobProgress & { stages: Stage[]; startedAt?: number };

/** What a job returns: its result as stored (parsed against its contract) plus the final stages. */
export type JobReturn = { result: unknown; stages: Stage[] };

const failurePrefix = 'curator-error:';

/**
 * BullMQ keeps only a failed job's message, so a worker encodes the typed error into it and the
 * gateway decodes it back. A message Curator did not write (a crash outside a handler) is reported
 * as internal_error with that message.
 */
export function encodeFailure(info: ErrorInfo): string {
  return failurePrefix + JSON.stringify(info);
}

export function decodeFailure(failedReason: string | undefined): ErrorInfo {
  if (failedReason?.startsWith(failurePrefix)) {
    const parsed = errorInfoSchema.safeParse(safeJson(failedReason.slice(failurePrefix.length)));
    if (parsed.success) return parsed.data;
  }
  return { code: 'internal_error', message: failedReason || 'The job failed without a reason' };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
