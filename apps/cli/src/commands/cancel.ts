import type { Command } from 'commander';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { followJob, progressView } from '../job-follow.ts';
import { formatJob } from '../job-view.ts';
import { printJson, writeLine, processIo, type CliIo } from '../output.ts';

/** `curator cancel <id>`: asks the job to stop; with --wait, until it has. */
export function registerCancelCommand(program: Command, io: CliIo = processIo): void {
  withConnectionOptions(
    program
      .command('cancel')
      .description('Cancel a queued or running job (a job that already ended: job_not_cancelable)')
      .argument('<id>', 'the job id')
      .option('--wait', 'wait until the job has stopped, then print it'),
  ).action(async (id: string, flags: ConnectionOptions & { wait?: boolean }) => {
    await withClient(io, flags, async (client) => {
      let job = await client.cancel(id);
      if (flags.wait) job = await followJob(client, id, progressView(io, flags.json === true));
      if (flags.json) printJson(io, job);
      else writeLine(io.stdout, formatJob(job));
    });
  });
}
