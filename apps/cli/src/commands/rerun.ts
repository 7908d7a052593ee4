import type { Command } from 'commander';
import type { RerunInput } from '@curator/client';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { showStarted, withFollowOptions, type FollowFlags } from '../job-follow.ts';
import { cancelAfterSeconds, jobOptionsFromFlags, withCancelAfterFlag, paramsFromOptions, withJobOptionFlags, withParamOptions, type JobOptionFlags, type ParamOptions } from '../job-request.ts';
import { processIo, type CliIo } from '../output.ts';

/**
 * `curator rerun <id> --param k=v …`: a new job with the original's input and its params changed;
 * stages whose inputs did not change are reused (the answer names them).
 */
export function registerRerunCommand(program: Command, io: CliIo = processIo): void {
  const command = program
    .command('rerun')
    .description("Run a job again with changed params (merged over the original's); unchanged stages are reused, not run again")
    .argument('<id>', 'the job to rerun');
  withParamOptions(command);
  withJobOptionFlags(command);
  withCancelAfterFlag(command);
  command.option('--idempotency-key <key>', 'sent as Idempotency-Key (default: a new random key; retries of this rerun reuse it)');
  withFollowOptions(command);
  type RerunFlags = ConnectionOptions & FollowFlags & ParamOptions & JobOptionFlags & { cancelAfter?: string; idempotencyKey?: string };
  withConnectionOptions(command).action(async (id: string, flags: RerunFlags) => {
    await withClient(io, flags, async (client) => {
      const params = paramsFromOptions(flags);
      const overrides = { ...(Object.keys(params).length > 0 ? { params } : {}), ...jobOptionsFromFlags(flags) };
      const cancelAfter = cancelAfterSeconds(flags);
      const accepted = await client.rerun(id, overrides as RerunInput, {
        ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
        ...(cancelAfter === undefined ? {} : { cancelAfterSeconds: cancelAfter }),
      });
      await showStarted(io, client, accepted, flags);
    });
  });
}
