// `npm run bench`: runs every `<app|package>/bench/*.bench.ts`, then the whole-system benches in
// `test/bench/*.bench.ts`, one after another (or the files named) and prints their figures.
// Benchmarks print; they never assert. Figures go to docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const named = process.argv.slice(2);
const files = named.length > 0 ? named : [...[...globSync('apps/*/bench/*.bench.ts'), ...globSync('packages/*/bench/*.bench.ts')].sort(), ...globSync('test/bench/*.bench.ts').sort()];
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file}\n`);
  const result = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
