// Runs every test file of the repo with node:test. Convention: tests live in `<app|package>/test/**/*.test.ts`;
// tests of the whole system (end to end, deployment files) live in the top-level `test/`.
// Extra arguments are passed to `node --test` (e.g. `--test-name-pattern=beam`), or name test files to run only those.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const targets = files.length > 0 ? files : ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'];

const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=900000', '--test-reporter=spec', ...flags, ...targets],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
