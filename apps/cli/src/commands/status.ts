import type { Command } from 'commander';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { formatJob } from '../job-view.ts';
import { printJson, settleExitCode, writeLine, processIo, type CliIo } from '../output.ts';

/** `curator status <id>`: the job as it is now (exit code 2 when it ended without a result). */
export function registerStatusCommand(program: Command, io: CliIo = processIo): void {
  withConnectionOptions(program.command('status').description('Show a job: status, stages with their times, result or error').argument('<id>', 'the job id')).action(
    async (id: string, flags: ConnectionOptions) => {
      await withClient(io, flags, async (client) => {
        const job = await client.get(id);
        if (flags.json) printJson(io, job);
        else writeLine(io.stdout, formatJob(job));
        settleExitCode(io, job);
      });
    },
  );
}
