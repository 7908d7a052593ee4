import type { Command } from 'commander';
import { jobTypes } from '@curator/contracts';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { showStarted, withFollowOptions, type FollowFlags } from '../job-follow.ts';
import { typesWithPictures } from '../job-files.ts';
import { cancelAfterSeconds, jobOptionsFromFlags, parseJobType, requestFromSource, withCancelAfterFlag, withJobOptionFlags, withKnobFlags, withParamOptions, type JobOptionFlags, type ParamOptions } from '../job-request.ts';
import { UsageError, processIo, type CliIo } from '../output.ts';

type SubmitFlags = ConnectionOptions & FollowFlags & JobOptionFlags & ParamOptions & { type: string; title?: string; idempotencyKey?: string; cancelAfter?: string };

/** `curator submit <url|file|->`: one job, followed live with --wait, its pictures saved with --out. */
export function registerSubmitCommand(program: Command, io: CliIo = processIo): void {
  const command = program
    .command('submit')
    .description('Submit a job: an article (its URL, a text file, or - for stdin) made into a card, or another job type')
    .argument('<source>', 'an http(s) URL of an article, a text file, or - to read stdin (text-to-image: the prompt itself, a file, or -)')
    .option('--type <type>', `job type: ${jobTypes.join(', ')}`, 'curate')
    .option('--title <title>', "the article's title (the card shows it with --card-text title)");
  withKnobFlags(command);
  withParamOptions(command);
  withJobOptionFlags(command);
  withCancelAfterFlag(command);
  command.option('--idempotency-key <key>', 'sent as Idempotency-Key (default: a new random key; retries of this submit reuse it)');
  withFollowOptions(command);
  withConnectionOptions(command).action(async (source: string, flags: SubmitFlags) => {
    await withClient(io, flags, async (client) => {
      const type = parseJobType(flags.type);
      if (flags.out !== undefined && !typesWithPictures.has(type)) throw new UsageError(`--out: ${type} jobs make no picture`);
      const request = { ...(await requestFromSource(source, type, flags, io)), ...jobOptionsFromFlags(flags) };
      const cancelAfter = cancelAfterSeconds(flags);
      const accepted = await client.submit(request, {
        ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
        ...(cancelAfter === undefined ? {} : { cancelAfterSeconds: cancelAfter }),
      });
      await showStarted(io, client, accepted, flags);
    });
  });
}
