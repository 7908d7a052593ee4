// `curator submit | status | watch | cancel | rerun | retry` as real processes, against the real
// system: the gateway and a worker as their own processes on the generated test models, Redis, the
// embedded S3 server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { CuratorClient, type JobView } from '@curator/client';
import { startSystem, withApiKey, type RunningSystem } from '../../../packages/client/test/support/system.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const main = join(root, 'apps/cli/src/main.ts');
const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const article = 'Fishermen returned to the harbour at dawn as repairs ended. Shops on the quay reopened and the ferry ran again.';

let system: RunningSystem;
let client: CuratorClient;
let directory: string;
let articleFile: string;

before(async () => {
  system = await startSystem();
  client = new CuratorClient({ baseUrl: system.url });
  directory = await mkdtemp(join(tmpdir(), 'curator-cli-jobs-'));
  articleFile = join(directory, 'article.txt');
  await writeFile(articleFile, article);
});
after(async () => {
  await system?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `curator <args>` in a process of its own; CURATOR_URL names the test gateway unless `vars` say otherwise. */
function curator(args: string[], options: { stdin?: string; vars?: Record<string, string> } = {}): Promise<Ran> {
  const env: Record<string, string | undefined> = { ...process.env, ...system.environment.vars, CURATOR_URL: system.url, CURATOR_API_KEY: undefined, ...options.vars };
  const child = spawn(process.execPath, [main, ...args], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The same command on a pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
function curatorInTerminal(args: string[]): Promise<Ran> {
  const command = [process.execPath, main, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  const env = { ...process.env, ...system.environment.vars, CURATOR_URL: system.url, COLUMNS: '120', TERM: 'xterm' };
  const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stdin.end();
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr: '' })));
}

const json = <T = Record<string, unknown>>(ran: Ran): T => {
  try {
    return JSON.parse(ran.stdout) as T;
  } catch {
    assert.fail(`stdout is one JSON document (exit ${ran.code}):\n${ran.stdout}\nstderr:\n${ran.stderr}`);
  }
};

const small = ['--size', '64x64', '--steps', '2'];

test('submit a text file with --wait --json --out <folder>: one JSON document, the card and picture saved', async () => {
  const out = join(directory, 'cards') + '/';
  const ran = await curator(['submit', articleFile, '--title', 'Harbour reopens', ...small, '--seed', '3', '--wait', '--json', '--out', out]);
  assert.equal(ran.code, 0, ran.stderr);
  const job = json<JobView>(ran);
  assert.equal(job.status, 'succeeded');
  assert.equal(job.type, 'curate');
  if (job.type !== 'curate' || !job.result) return assert.fail('a curate result');
  assert.equal(job.result.title, 'Harbour reopens');
  assert.equal(job.result.image.generation.seed, 3);
  assert.deepEqual((await readdir(out)).sort(), [`${job.id}-card.png`, `${job.id}-image.png`]);
  for (const name of await readdir(out)) assert.deepEqual([...(await readFile(join(out, name))).subarray(0, 8)], pngSignature, `${name} is a PNG`);
  assert.match(ran.stderr, new RegExp(`saved .*${job.id}-card\\.png`));
});

test('submit from stdin, then status and watch: readable text without a terminal, JSON lines from watch --json', async () => {
  const submitted = await curator(['submit', '-', '--type', 'classify', '--analysis', 'genre'], { stdin: 'The match ended in a draw after extra time.' });
  assert.equal(submitted.code, 0, submitted.stderr);
  const id = /^job ([0-9a-f-]{36}) {2}classify {2}queued$/m.exec(submitted.stdout)?.[1];
  assert.ok(id, submitted.stdout);
  assert.match(submitted.stdout, new RegExp(`curator watch ${id}`));

  const watched = await curator(['watch', id, '--json']);
  assert.equal(watched.code, 0, watched.stderr);
  const events = watched.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; event: string; job: JobView });
  assert.ok(events.length >= 1);
  assert.equal(events.at(-1)!.event, 'completed');
  assert.ok(events.every((event) => event.job.id === id && typeof event.id === 'string'));

  const status = await curator(['status', id]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`^job ${id} {2}classify {2}succeeded`));
  assert.match(status.stdout, /^ {2}genre +(business|entertainment|politics|sport|tech)$/m);
  assert.match(status.stdout, /^ {2}✓ genre/m);
  assert.match(status.stdout, /models +test: the generated test models/);
  const asJson = json<JobView>(await curator(['status', id, '--json']));
  assert.equal(asJson.id, id);
  assert.equal(asJson.status, 'succeeded');
});

test('submit --wait without a terminal: a line per stage, then the result; no progress bars', async () => {
  const ran = await curator(['submit', articleFile, ...small, '--seed', '5', '--wait']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /^job [0-9a-f-]{36} running$/m);
  for (const stage of ['extract', 'sentiment', 'summarize', 'headline', 'image', 'card']) assert.match(ran.stdout, new RegExp(`^ {2}✓ ${stage}\\b`, 'm'), `a line for ${stage}`);
  assert.match(ran.stdout, /^result$/m);
  assert.match(ran.stdout, /^ {2}headline +\S/m);
  assert.match(ran.stdout, /^ {2}card +http:\/\/127\.0\.0\.1:\d+\/.*X-Amz-Signature=/m);
  assert.doesNotMatch(ran.stdout, /[\u2588\u2591]|\u001b\[/, 'no bar characters or terminal escapes');
});

test('submit --wait on a terminal: a live progress bar of the stages, then the result', async () => {
  const ran = await curatorInTerminal(['submit', articleFile, ...small, '--seed', '6', '--wait', '--out', join(directory, 'terminal-card.png')]);
  assert.equal(ran.code, 0, ran.stdout);
  assert.match(ran.stdout, /[\u2588\u2591]{10,} \d+% \| \d\/6 stages/, 'a cli-progress bar with the stage count');
  assert.match(ran.stdout, /✓ image/);
  assert.match(ran.stdout, /headline +\S/);
  assert.deepEqual([...(await readFile(join(directory, 'terminal-card.png'))).subarray(0, 8)], pngSignature);
});

test('refusals: the API error code on stderr and exit 1; with --json also { error } on stdout', async () => {
  const invalid = await curator(['submit', articleFile, '--summary-tokens', '500', '--json']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^validation_failed: .*params\.summaryMaxTokens/m);
  assert.match(invalid.stderr, /^ {2}params\.summaryMaxTokens: /m);
  const body = json<{ error: { code: string; details: Array<{ path: string }> } }>(invalid);
  assert.equal(body.error.code, 'validation_failed');
  assert.equal(body.error.details[0]?.path, 'params.summaryMaxTokens');

  const unknown = await curator(['status', randomUUID()]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^job_not_found: /m);
  assert.equal(unknown.stdout, '');

  const usage = await curator(['submit', articleFile, '--steps', 'many']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /^bad_usage: --steps many: a whole number/m);
  const wrongType = await curator(['submit', articleFile, '--type', 'classify', '--steps', '4']);
  assert.match(wrongType.stderr, /^bad_usage: --steps does not apply to classify jobs/m);
  const missing = await curator(['submit', join(directory, 'nope.txt')]);
  assert.match(missing.stderr, /^bad_usage: Cannot read .*nope\.txt/m);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const unreachable = await curator(['status', randomUUID(), '--json'], { vars: { CURATOR_URL: `http://127.0.0.1:${port}` } });
  assert.equal(unreachable.code, 1);
  assert.equal(json<{ error: { code: string } }>(unreachable).error.code, 'unreachable');
  // --url wins over CURATOR_URL.
  const viaFlag = await curator(['status', randomUUID(), '--url', system.url], { vars: { CURATOR_URL: `http://127.0.0.1:${port}` } });
  assert.match(viaFlag.stderr, /^job_not_found: /m);
});

test('a job that fails: exit 2 and its error code (a blocked address)', async () => {
  const ran = await curator(['submit', 'http://127.0.0.1:9/news/harbour', '--wait', '--json']);
  assert.equal(ran.code, 2, ran.stderr);
  const job = json<JobView>(ran);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.code, 'fetch_blocked');
  assert.match(ran.stderr, /^fetch_blocked: job .* failed/m);
  const status = await curator(['status', job.id]);
  assert.equal(status.code, 2);
  assert.match(status.stdout, /^error\n {2}fetch_blocked: /m);
});

test('cancel a running job with --wait: it ends canceled; a second cancel is job_not_cancelable', async () => {
  const submitted = json<{ id: string }>(await curator(['submit', articleFile, '--size', '256x256', '--steps', '150', '--seed', '7', '--json']));
  for await (const { job } of client.events(submitted.id)) if (job.status === 'running') break;
  const canceled = await curator(['cancel', submitted.id, '--wait', '--json']);
  assert.equal(canceled.code, 0, canceled.stderr);
  assert.equal(json<JobView>(canceled).status, 'canceled');
  const again = await curator(['cancel', submitted.id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^job_not_cancelable: /m);
});

test('rerun --param: a new job on the same article, the reused stages named; --wait follows it', async () => {
  const original = json<JobView>(await curator(['submit', articleFile, ...small, '--seed', '8', '--wait', '--json']));
  assert.equal(original.status, 'succeeded');
  const rerun = await curator(['rerun', original.id, '--param', 'imagePrefix=Watercolour sketch - ']);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, new RegExp(`^ {2}rerun of +${original.id}$`, 'm'));
  assert.match(rerun.stdout, /^ {2}reused +.*sentiment, summarize, headline.* \(inputs unchanged: not run again\)$/m);
  const genre = await curator(['rerun', original.id, '--param', 'analysis=genre', '--wait', '--json']);
  assert.equal(genre.code, 0, genre.stderr);
  const job = json<JobView>(genre);
  assert.equal(job.rerunOf, original.id);
  assert.ok(job.type === 'curate' && job.result?.analysis.task === 'genre');
  const bad = await curator(['rerun', original.id, '--param', 'summaryMaxTokens=500', '--json']);
  assert.equal(bad.code, 1);
  assert.equal(json<{ error: { code: string } }>(bad).error.code, 'validation_failed');
});

test('retry: a failed job runs again under its id (exit 2 when it fails again); a succeeded one is job_not_retryable', async () => {
  const failed = json<JobView>(await curator(['submit', 'http://127.0.0.1:9/news', '--wait', '--json']));
  assert.equal(failed.status, 'failed');
  const again = await curator(['retry', failed.id, '--wait', '--json']);
  assert.equal(again.code, 2, again.stderr);
  const job = json<JobView>(again);
  assert.equal(job.id, failed.id);
  assert.equal(job.history?.length, 1);
  const done = json<JobView>(await curator(['submit', '-', '--type', 'classify', '--wait', '--json'], { stdin: 'Fine as it is.' }));
  const refused = await curator(['retry', done.id]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^job_not_retryable: /m);
});

test('API keys: without one a keyed gateway answers unauthorized; --api-key and CURATOR_API_KEY send it', async () => {
  const created = await withApiKey(system, 'cli-jobs-test');
  try {
    const none = await curator(['status', randomUUID(), '--json']);
    assert.equal(none.code, 1);
    assert.equal(json<{ error: { code: string } }>(none).error.code, 'unauthorized');
    const viaFlag = await curator(['status', randomUUID(), '--api-key', created.secret]);
    assert.match(viaFlag.stderr, /^job_not_found: /m, 'past the key check');
    const viaEnv = await curator(['submit', '-', '--type', 'classify', '--wait', '--json'], { stdin: 'With a key.', vars: { CURATOR_API_KEY: created.secret } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(json<JobView>(viaEnv).status, 'succeeded');
  } finally {
    await created.revoke();
  }
});
