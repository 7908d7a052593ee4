// `npm run test:faults`: the fault suite, one scenario file at a time (each starts its own Redis, S3,
// gateway and workers; running two at once would only make them slower), then the ledger: one line per
// scenario, `accepted N, succeeded N, failed N (codes), lost 0`, with the gateway's latency during the
// fault. Run some only: `npm run test:faults -- test/faults/s3-away.fault.ts`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (spawnSync('redis-server', ['--version']).error) {
  console.error('The fault suite starts redis-servers of its own (crashed, stopped and restarted on purpose): install redis-server (Debian: apt-get install redis-server).');
  process.exit(1);
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const folder = mkdtempSync(join(tmpdir(), 'curator-fault-ledger-'));
const ledger = join(folder, 'ledger.txt');
const started = performance.now();

const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...flags, ...(files.length > 0 ? files : ['test/faults/*.fault.ts'])],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', FAULT_LEDGER_FILE: ledger } },
);
child.on('exit', (code, signal) => {
  const lines = existsSync(ledger) ? readFileSync(ledger, 'utf8').trim() : '';
  rmSync(folder, { recursive: true, force: true });
  console.log(`\nFault ledger (${((performance.now() - started) / 1000).toFixed(0)} s in all):`);
  console.log(lines || '(no scenario got as far as its ledger line)');
  process.exit(code ?? (signal ? 1 : 0));
});
