import { Command, InvalidArgumentError } from 'commander';
import { loadEnv } from '@curator/config';
import { FeedbackLog } from '@curator/queue';
import { processIo, reportFailure, writeLine, type CliIo } from '../output.ts';

const unitMs: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a date or time (ISO 8601, `2026-01-31`, `2026-01-31T12:00:00Z`) or how long ago (`90m`, `24h`, `7d`, `2w`). */
export function parseSince(value: string, now = Date.now()): Date {
  const ago = /^(\d+)(m|h|d|w)$/.exec(value.trim());
  if (ago) return new Date(now - Number(ago[1]) * unitMs[ago[2]!]!);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const at = Date.parse(value.trim());
    if (Number.isFinite(at)) return new Date(at);
  }
  throw new InvalidArgumentError('a date or time (2026-01-31, 2026-01-31T12:00:00Z) or how long ago (90m, 24h, 7d, 2w)');
}

/**
 * `curator feedback export`: every rating clients gave (`POST /jobs/:id/feedback`), oldest first,
 * as JSON Lines on stdout (one Feedback object per line: id, jobId, jobType, rating, comment,
 * field, createdAt), read straight from Redis (REDIS_URL, QUEUE_PREFIX); how many on stderr.
 */
export function registerFeedbackCommand(program: Command, io: CliIo = processIo): void {
  const feedback = program.command('feedback').description('Ratings clients gave to jobs (in Redis: REDIS_URL, QUEUE_PREFIX)');
  feedback
    .command('export')
    .description('Write every rating as JSON Lines on stdout, oldest first (the count goes to stderr)')
    .option('--since <when>', 'only ratings from then on: a date or time (2026-01-31, 2026-01-31T12:00:00Z) or how long ago (90m, 24h, 7d, 2w)', (value) => parseSince(value))
    .option('--json', 'JSON Lines (what the export always writes; accepted like on every other command)')
    .action(async (flags: { since?: Date; json?: boolean }) => {
      let log: FeedbackLog | null = null;
      try {
        const env = loadEnv(io.env);
        log = await FeedbackLog.connect({ redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
        let count = 0;
        for await (const entry of log.export(flags.since ? { since: flags.since } : {})) {
          writeLine(io.stdout, JSON.stringify(entry));
          count++;
        }
        writeLine(io.stderr, `${count} rating${count === 1 ? '' : 's'} exported${flags.since ? ` since ${flags.since.toISOString()}` : ''}`);
      } catch (error) {
        reportFailure(io, error, flags.json === true);
      } finally {
        await log?.close();
      }
    });
}
