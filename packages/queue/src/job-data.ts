import { z } from 'zod';
import { jobRequestSchema, errorInfoSchema, stageSchema, type ErrorInfo, type JobRequest, type Stage, type JobProgress } from '@curator/contracts';

/** What the gateway stores with each BullMQ job; the worker parses it with the same schema. */
export const jobDataSchema = z.object({
  request: jobRequestSchema,
  submittedAt: z.iso.datetime(),
  /** Parent curate job when this job is its image stages, run in the image pool. */
  parentId: z.string().optional(),
  /** For a curate job's image stages: the headline to set on the card. */
  card: z.object({ headline: z.string() }).optional(),
  /** A curate job's finished text stages, kept while its image stages run in the other pool. */
  textStages: z.object({ value: z.unknown(), stages: z.array(stageSchema) }).optional(),
});
export type JobData = z.infer<typeof jobDataSchema>;

/** What workers write as BullMQ job progress: the public progress plus the stage list. */
export type JobProgressData = JobProgress & { stages: Stage[] };

/** What a job returns: its public result plus the final stages. */
export type JobReturn = { result: unknown; stages: Stage[] };

const failurePrefix = 'curator-error:';

/**
 * BullMQ keeps only a failed job's message, so a worker encodes the typed error into it and the
 * gateway decodes it back; a message that was not encoded (a crash) is reported as internal_error.
 */
export function encodeFailure(info: ErrorInfo): string {
  return failurePrefix + JSON.stringify(info);
}

export function decodeFailure(failedReason: string | undefined): ErrorInfo {
  if (failedReason?.startsWith(failurePrefix)) {
    const parsed = errorInfoSchema.safeParse(safeJson(failedReason.slice(failurePrefix.length)));
    if (parsed.success) return parsed.data;
  }
  if (failedReason && /^child .* failed$/.test(failedReason.trim())) {
    // JobQueues.get replaces this with the child's own error when the child is still kept.
    return { code: 'inference_failed', message: 'The image stages failed in the image pool' };
  }
  if (failedReason && /stalled more than allowable limit/.test(failedReason)) {
    return { code: 'inference_failed', message: 'The job stalled: its worker stopped renewing the lock too many times' };
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

export type { JobRequest };
