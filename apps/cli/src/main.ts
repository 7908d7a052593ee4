#!/usr/bin/env node
// `curator` command line: `npm run curator -- <command>`; `npm start` is `curator start`.
import { Command } from 'commander';
import { CuratorConfigError } from '@curator/config';
import { isCuratorError } from '@curator/contracts';
import { registerStartCommand } from './commands/start.ts';
import { registerExtractCommand } from './commands/extract.ts';
import { registerModelsCommand } from './commands/models.ts';
import { registerConfigCommand } from './commands/config.ts';

const program = new Command('curator').description('Curator: news article in, publishable card out').showHelpAfterError();
registerStartCommand(program);
registerExtractCommand(program);
registerModelsCommand(program);
registerConfigCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CuratorConfigError) process.stderr.write(`${error.message}\n`);
  else if (isCuratorError(error)) process.stderr.write(`${error.code}: ${error.message}\n`);
  else process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
