import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeyStore, hashSecret } from '../src/index.ts';
import { testRedis } from './redis.ts';

let t: ReturnType<typeof testRedis>;
let store: KeyStore;

before(() => {
  t = testRedis();
  store = new KeyStore(t.redis, t.prefix);
});
after(() => t.close());

test('a created key is shown once: its secret verifies, and Redis holds only its SHA-256', async () => {
  const created = await store.create({ name: 'ci', scopes: ['submit', 'read'], rateLimitPerMinute: 30, dailyJobQuota: 100 });
  assert.match(created.secret, /^cur_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.match(created.webhookSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(created.key.prefix, `cur_${created.key.id}`);
  assert.ok(created.secret.startsWith(created.key.prefix));
  assert.deepEqual(created.key.scopes, ['submit', 'read']);
  assert.equal(created.key.rateLimitPerMinute, 30);
  assert.equal(created.key.dailyJobQuota, 100);

  // Nothing under the prefix contains the secret; the record holds its hash.
  for (const key of await t.redis.keys(`${t.prefix}:*`)) {
    const type = await t.redis.type(key);
    const dump = type === 'string' ? await t.redis.get(key) : JSON.stringify(type === 'set' ? await t.redis.smembers(key) : await t.redis.zrange(key, '0', '-1'));
    assert.ok(!dump!.includes(created.secret.slice(21)), `${key} holds the secret`);
  }
  assert.ok((await t.redis.get(`${t.prefix}:access:key:${created.key.id}`))!.includes(hashSecret(created.secret)));

  const verified = await store.verify(created.secret);
  assert.equal(verified.ok, true);
  assert.equal(verified.ok && verified.key.id, created.key.id);
  assert.equal('secret' in created.key, false);
  assert.equal('secretHash' in created.key, false);
  assert.equal('webhookSecret' in created.key, false);
});

test('wrong, malformed and revoked secrets do not verify; revoking is immediate and idempotent', async () => {
  const { key, secret } = await store.create({ name: 'temp' });
  const tampered = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
  assert.deepEqual(await store.verify(tampered), { ok: false, reason: 'unknown' });
  assert.deepEqual(await store.verify('not-a-key'), { ok: false, reason: 'malformed' });
  assert.deepEqual(await store.verify(`cur_${'0'.repeat(16)}_${'A'.repeat(43)}`), { ok: false, reason: 'unknown' });

  const revoked = await store.revoke(key.id);
  assert.ok(revoked?.revokedAt);
  assert.deepEqual(await store.verify(secret), { ok: false, reason: 'revoked' });
  const again = await store.revoke(key.id);
  assert.equal(again?.revokedAt, revoked.revokedAt, 'the first revocation time stays');
  assert.equal(await store.revoke('0123456789abcdef'), null);
});

test('hasActiveKeys follows creation and revocation; list shows every key with its last use', async () => {
  const fresh = new KeyStore(t.redis, `${t.prefix}-other`);
  assert.equal(await fresh.hasActiveKeys(), false);
  const { key } = await fresh.create({ name: 'only' });
  assert.equal(await fresh.hasActiveKeys(), true);
  const used = new Date('2030-01-02T03:04:05.000Z');
  await fresh.touch(key.id, used);
  const [listed] = await fresh.list();
  assert.equal(listed!.lastUsedAt, used.toISOString());
  await fresh.revoke(key.id);
  assert.equal(await fresh.hasActiveKeys(), false);
  assert.equal((await fresh.list()).length, 1, 'revoked keys stay listed');
  await t.redis.del(...(await t.redis.keys(`${t.prefix}-other:*`)));
});

test('defaults, validation, and the key-owned webhook secret and content policy', async () => {
  const { key, webhookSecret } = await store.create({ name: 'defaults', contentPolicy: { terms: ['dragon'] } });
  assert.deepEqual(key.scopes, ['submit', 'read']);
  assert.equal(key.rateLimitPerMinute, null);
  assert.equal(key.dailyJobQuota, null);
  assert.equal(await store.webhookSecretFor(key.id), webhookSecret);
  assert.equal(await store.webhookSecretFor('anonymous'), null);
  assert.deepEqual(await store.contentPolicyFor(key.id), { exempt: false, terms: ['dragon'], patterns: [] });

  await assert.rejects(store.create({ name: '' }), (error: Error & { code?: string }) => error.code === 'validation_failed' && /name/.test(error.message));
  await assert.rejects(store.create({ name: 'x', scopes: ['root' as 'admin'] }), /scopes/);
  await assert.rejects(store.create({ name: 'x', dailyJobQuota: 0 }), /dailyJobQuota/);
  await assert.rejects(store.create({ name: 'x', contentPolicy: { patterns: ['(a)\\1'] } }), /contentPolicy\.patterns\.0/);
});
