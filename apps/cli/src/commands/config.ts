import type { Command } from 'commander';
import { configMarkdownTable, loadEnv } from '@curator/config';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('Print the effective configuration, or every variable as a markdown table')
    .option('--markdown', 'print the table of every variable, default and meaning')
    .action((options: { markdown?: boolean }) => {
      if (options.markdown) {
        process.stdout.write(`${configMarkdownTable()}\n`);
        return;
      }
      const env = loadEnv();
      const masked = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, /SECRET|TOKEN|PASSWORD|API_KEY/.test(k) && v ? '***' : v]));
      process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
    });
}
