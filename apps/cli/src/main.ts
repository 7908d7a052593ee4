#!/usr/bin/env node
// `curator` command line: `npm run curator -- <command>`; `npm start` is `curator start`.
import { Command } from 'commander';
import { CuratorConfigError } from '@curator/config';
import { isCuratorError } from '@curator/contracts';
import { registerSubmitCommand } from './commands/submit.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerWatchCommand } from './commands/watch.ts';
import { registerCancelCommand } from './commands/cancel.ts';
import { registerRerunCommand } from './commands/rerun.ts';
import { registerRetryCommand } from './commands/retry.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerFeedbackCommand } from './commands/feedback.ts';

const program = new Command('curator').description('Curator: news article in, publishable card out').showHelpAfterError();

// The job commands only speak HTTP to a gateway (and `keys` only Redis): they start without loading
// the gateway, the worker and the model code (seconds of imports) that the other commands need.
const httpOnlyCommands = new Set(['submit', 'status', 'watch', 'cancel', 'rerun', 'retry', 'keys', 'feedback']);
if (!httpOnlyCommands.has(process.argv[2] ?? '')) {
  const [start, extract, models, config] = await Promise.all([
    import('./commands/start.ts'),
    import('./commands/extract.ts'),
    import('./commands/models.ts'),
    import('./commands/config.ts'),
  ]);
  start.registerStartCommand(program);
  extract.registerExtractCommand(program);
  models.registerModelsCommand(program);
  config.registerConfigCommand(program);
}
registerSubmitCommand(program);
registerStatusCommand(program);
registerWatchCommand(program);
registerCancelCommand(program);
registerRerunCommand(program);
registerRetryCommand(program);
registerKeysCommand(program);
registerFeedbackCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CuratorConfigError) process.stderr.write(`${error.message}\n`);
  else if (isCuratorError(error)) process.stderr.write(`${error.code}: ${error.message}\n`);
  else process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
