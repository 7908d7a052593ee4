import type { Command } from 'commander';
import type { RerunInput } from '@curator/client';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { showStarted, withFollowOptions, type FollowFlags } from '../job-follow.ts';
import { jobOptionsFromFlags, paramsFromOptions, withJobOptionFlags, withParamOptions, type JobOptionFlags, type ParamOptions } from '../job-request.ts';
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
  withFollowOptions(command);
  withConnectionOptions(command).action(async (id: string, flags: ConnectionOptions & FollowFlags & ParamOptions & JobOptionFlags) => {
    await withClient(io, flags, async (client) => {
      const params = paramsFromOptions(flags);
      const overrides = { ...(Object.keys(params).length > 0 ? { params } : {}), ...jobOptionsFromFlags(flags) };
      const accepted = await client.rerun(id, overrides as RerunInput);
      await showStarted(io, client, accepted, flags);
    });
  });
}
