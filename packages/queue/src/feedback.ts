import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { feedbackSchema, type Feedback, type FeedbackRequest, type JobType } from '@curator/contracts';
import { keys } from './names.ts';
import { connectToolRedis } from './connection.ts';

/**
 * The global feedback stream keeps about this many entries (older ones are trimmed): enough for a
 * long time of human ratings, bounded whatever a client sends. Export it before it rolls over.
 */
export const feedbackStreamLength = 1_000_000;

/**
 * Feedback on jobs, in Redis: each job's own list (removed with the job) and one stream of every
 * entry, oldest first, that `curator feedback export` reads (by time: stream ids are timestamps).
 */
export class FeedbackLog {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly owned: boolean;

  constructor(redis: Redis, prefix: string, options: { owned?: boolean } = {}) {
    this.redis = redis;
    this.prefix = prefix;
    this.owned = options.owned ?? false;
  }

  /**
   * A log on a connection of its own (for `curator feedback export`): connected first, so a Redis
   * that is away is said at once (`queue_unavailable` naming where it tried), and every command
   * ends within `timeoutMs`.
   */
  static async connect(settings: { redisUrl: string | undefined; prefix: string }, timeoutMs = 5000): Promise<FeedbackLog> {
    return new FeedbackLog(await connectToolRedis(settings.redisUrl, timeoutMs), settings.prefix, { owned: true });
  }

  /** Stores one entry; the job's list lives as long as the job (`expiresAtMs`, when known). */
  async record(job: { id: string; type: JobType; expiresAtMs: number | null }, request: FeedbackRequest, now = new Date()): Promise<Feedback> {
    const entry: Feedback = {
      id: randomUUID(),
      jobId: job.id,
      jobType: job.type,
      rating: request.rating,
      comment: request.comment ?? null,
      field: request.field,
      createdAt: now.toISOString(),
    };
    const k = keys(this.prefix);
    const json = JSON.stringify(entry);
    const multi = this.redis.multi().rpush(k.jobFeedback(job.id), json);
    if (job.expiresAtMs) multi.pexpireat(k.jobFeedback(job.id), job.expiresAtMs);
    multi.xadd(k.feedbackStream, 'MAXLEN', '~', feedbackStreamLength, '*', 'entry', json);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
    return entry;
  }

  /** The feedback on one job, oldest first. */
  async forJob(jobId: string): Promise<Feedback[]> {
    const values = await this.redis.lrange(keys(this.prefix).jobFeedback(jobId), 0, -1);
    return values.flatMap((value) => parseEntry(value));
  }

  /** Every entry from `since` on (all when not given), oldest first, read `batch` at a time. */
  async *export(options: { since?: Date; batch?: number } = {}): AsyncGenerator<Feedback> {
    const stream = keys(this.prefix).feedbackStream;
    const batch = options.batch ?? 500;
    let start = options.since ? `${options.since.getTime()}-0` : '-';
    for (;;) {
      const entries = await this.redis.xrange(stream, start, '+', 'COUNT', batch);
      for (const [, fields] of entries) {
        const at = fields.indexOf('entry');
        if (at >= 0) yield* parseEntry(fields[at + 1]!);
      }
      if (entries.length < batch) return;
      start = `(${entries.at(-1)![0]}`;
    }
  }

  async close(): Promise<void> {
    if (this.owned) this.redis.disconnect();
  }
}

function parseEntry(value: string): Feedback[] {
  try {
    const parsed = feedbackSchema.safeParse(JSON.parse(value));
    return parsed.success ? [parsed.data] : [];
  } catch {
    return [];
  }
}
