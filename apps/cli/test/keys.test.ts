// `curator keys create | list | revoke` as real processes on the test's Redis and prefix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyStore } from '@curator/access';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const main = join(root, 'apps/cli/src/main.ts');

let t: TestEnvironment;
let store: KeyStore;

before(async () => {
  t = await testEnvironment({ roles: [] });
  store = new KeyStore(t.redis, t.env.QUEUE_PREFIX);
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

test('keys create prints the secret once (JSON or text); the store keeps only its hash, and it verifies', async () => {
  const json = await curator(['keys', 'create', '--name', 'ci pipeline', '--scopes', 'submit,read', '--rate-limit', '120', '--daily-quota', '500', '--block-terms', 'dragon,wyvern', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const created = JSON.parse(json.stdout);
  assert.match(created.secret, /^cur_[0-9a-f]{16}_/);
  assert.match(created.webhookSecret, /^whsec_/);
  assert.deepEqual(
    { name: created.key.name, scopes: created.key.scopes, rate: created.key.rateLimitPerMinute, quota: created.key.dailyJobQuota, terms: created.key.contentPolicy.terms },
    { name: 'ci pipeline', scopes: ['submit', 'read'], rate: 120, quota: 500, terms: ['dragon', 'wyvern'] },
  );
  const verified = await store.verify(created.secret);
  assert.equal(verified.ok && verified.key.id, created.key.id);
  assert.equal(await store.webhookSecretFor(created.key.id), created.webhookSecret);

  const text = await curator(['keys', 'create', '--name', 'ops', '--scopes', 'admin', '--policy-exempt']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /Created API key [0-9a-f]{16} "ops": scopes admin; rate limit the deployment default; daily quota none; content policy: exempt/);
  const secret = /^\s+(cur_\S+)$/m.exec(text.stdout)?.[1];
  assert.ok(secret, text.stdout);
  assert.equal((await store.verify(secret)).ok, true);
});

test('keys list shows every key without secrets; keys revoke revokes at once; unknown ids and bad options fail with exit code 1', async () => {
  const list = await curator(['keys', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const { keys } = JSON.parse(list.stdout);
  assert.deepEqual(keys.map((k: { name: string }) => k.name), ['ci pipeline', 'ops']);
  assert.ok(!list.stdout.includes('secretHash') && !list.stdout.includes('whsec_') && !/cur_[0-9a-f]{16}_/.test(list.stdout), 'no secrets listed');
  const table = await curator(['keys', 'list']);
  assert.match(table.stdout, /^ID\s+NAME\s+STATE/m);
  assert.match(table.stdout, /ci pipeline\s+active/);

  const id = keys[0].id as string;
  const revoked = await curator(['keys', 'revoke', id, '--json']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.ok(JSON.parse(revoked.stdout).key.revokedAt);
  assert.equal((await store.get(id))?.revokedAt, JSON.parse(revoked.stdout).key.revokedAt);
  assert.match((await curator(['keys', 'list'])).stdout, new RegExp(`${id}\\s+ci pipeline\\s+revoked`));

  const unknown = await curator(['keys', 'revoke', '0123456789abcdef', '--json']);
  assert.equal(unknown.code, 1);
  assert.equal(JSON.parse(unknown.stdout).error.code, 'not_found');
  assert.match(unknown.stderr, /^not_found: No API key 0123456789abcdef/);
  const badScope = await curator(['keys', 'create', '--name', 'x', '--scopes', 'root']);
  assert.equal(badScope.code, 1);
  assert.match(badScope.stderr, /"root" is not a scope/);
  const badPattern = await curator(['keys', 'create', '--name', 'x', '--block-pattern', '(a)\\1', '--json']);
  assert.equal(badPattern.code, 1);
  assert.equal(JSON.parse(badPattern.stdout).error.code, 'validation_failed');
});

test('without Redis the keys commands say where they tried', async () => {
  const res = await curator(['keys', 'list', '--json'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.equal(res.code, 1);
  assert.equal(JSON.parse(res.stdout).error.code, 'queue_unavailable');
  assert.match(res.stderr, /Cannot reach Redis at 127\.0\.0\.1:1 \(REDIS_URL\)/);
});
