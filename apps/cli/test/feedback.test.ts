// `curator feedback export` as a real process on the test's Redis and prefix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { feedbackSchema } from '@curator/contracts';
import { FeedbackLog } from '@curator/queue';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { parseSince } from '../src/commands/feedback.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const main = join(root, 'apps/cli/src/main.ts');

let t: TestEnvironment;

before(async () => {
  t = await testEnvironment({ roles: [] });
});
after(() => t.close());

function curator(args: string[], vars: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { cwd: root, env: { ...process.env, ...t.vars, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const lines = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => feedbackSchema.parse(JSON.parse(line)));

test('feedback export writes every rating as JSON Lines, oldest first; --since keeps the later ones', async () => {
  const log = new FeedbackLog(t.redis, t.env.QUEUE_PREFIX);
  const job = { id: randomUUID(), type: 'curate' as const, expiresAtMs: null };
  const first = await log.record(job, { rating: 5, field: 'headline', comment: 'spot on' });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const cut = new Date();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = await log.record({ ...job, type: 'classify' }, { rating: 1, field: 'analysis' });

  const all = await curator(['feedback', 'export']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(lines(all.stdout), [first, second]);
  assert.match(all.stderr, /2 ratings exported/);

  const later = await curator(['feedback', 'export', '--since', cut.toISOString(), '--json']);
  assert.equal(later.code, 0, later.stderr);
  assert.deepEqual(lines(later.stdout), [second]);
  const recent = await curator(['feedback', 'export', '--since', '1h']);
  assert.deepEqual(lines(recent.stdout).map((f) => f.id), [first.id, second.id]);
});

test('a bad --since or an unreachable Redis fails with exit code 1 and says why', async () => {
  const bad = await curator(['feedback', 'export', '--since', 'yesterday']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--since/);
  const away = await curator(['feedback', 'export', '--json'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.equal(away.code, 1);
  assert.match(away.stderr, /^queue_unavailable: Cannot reach Redis at 127\.0\.0\.1:1/m);
  assert.equal(JSON.parse(away.stdout).error.code, 'queue_unavailable');
});

test('--since reads dates, times and how long ago', () => {
  const now = Date.parse('2026-02-01T00:00:00Z');
  assert.equal(parseSince('24h', now).toISOString(), '2026-01-31T00:00:00.000Z');
  assert.equal(parseSince('2w', now).toISOString(), '2026-01-18T00:00:00.000Z');
  assert.equal(parseSince('2026-01-31T12:00:00Z', now).toISOString(), '2026-01-31T12:00:00.000Z');
  assert.equal(parseSince('2026-01-31', now).toISOString(), '2026-01-31T00:00:00.000Z');
  assert.throws(() => parseSince('soon', now));
});
