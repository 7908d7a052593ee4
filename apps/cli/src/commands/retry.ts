import type { Command } from 'commander';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { showStarted, withFollowOptions, type FollowFlags } from '../job-follow.ts';
import { processIo, type CliIo } from '../output.ts';

/** `curator retry <id>`: a failed or expired job runs again under the same id (its earlier runs stay in `history`). */
export function registerRetryCommand(program: Command, io: CliIo = processIo): void {
  const command = program.command('retry').description('Run a failed or expired job again, same id and inputs (job_not_retryable otherwise)').argument('<id>', 'the job id');
  withFollowOptions(command);
  withConnectionOptions(command).action(async (id: string, flags: ConnectionOptions & FollowFlags) => {
    await withClient(io, flags, async (client) => {
      await showStarted(io, client, await client.retry(id), flags);
    });
  });
}
