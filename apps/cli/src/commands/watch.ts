import type { Command } from 'commander';
import { withClient, withConnectionOptions, type ConnectionOptions } from '../api.ts';
import { followJob, progressView, showFinished } from '../job-follow.ts';
import { writeLine, processIo, type CliIo } from '../output.ts';

/**
 * `curator watch <id>`: the job's events until it ends: a progress bar on a terminal, a line per
 * change otherwise; with --json one JSON document per event (JSON Lines: `{ id, event, job }`).
 */
export function registerWatchCommand(program: Command, io: CliIo = processIo): void {
  withConnectionOptions(
    program
      .command('watch')
      .description("Follow a job's events until it ends, then print it (--json: one line of JSON per event)")
      .argument('<id>', 'the job id')
      .option('--out <path>', 'download its card and picture (a folder) or its card (a file) once it is done'),
  ).action(async (id: string, flags: ConnectionOptions & { out?: string }) => {
    await withClient(io, flags, async (client) => {
      const json = flags.json === true;
      // With --json every event is its own line; the final state is the last of them, not printed again.
      const job = await followJob(client, id, progressView(io, json), json ? (event) => writeLine(io.stdout, JSON.stringify(event)) : undefined);
      await showFinished(io, job, flags, !json);
    });
  });
}
