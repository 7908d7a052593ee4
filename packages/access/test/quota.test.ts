import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DailyJobQuota, nextUtcMidnight, secondsUntil } from '../src/index.ts';
import { testRedis } from './redis.ts';

let t: ReturnType<typeof testRedis>;
let quota: DailyJobQuota;

before(() => {
  t = testRedis();
  quota = new DailyJobQuota(t.redis, t.prefix);
});
after(() => t.close());

test('a charge that would pass the quota is refused whole and counts nothing', async () => {
  const now = new Date('2031-05-06T22:00:00.000Z');
  assert.deepEqual(await quota.charge('k1', 3, 5, now), { allowed: true, used: 3, limit: 5, day: '2031-05-06', resetsAt: new Date('2031-05-07T00:00:00.000Z') });
  const refused = await quota.charge('k1', 3, 5, now);
  assert.equal(refused.allowed, false);
  assert.equal(refused.used, 3);
  assert.equal(await quota.used('k1', now), 3);
  assert.equal((await quota.charge('k1', 2, 5, now)).allowed, true);
  assert.equal((await quota.charge('k1', 1, 5, now)).allowed, false);
});

test('a refund gives jobs back to the day they were charged to; each UTC day counts apart', async () => {
  const day = new Date('2031-05-08T23:59:59.000Z');
  const next = new Date('2031-05-09T00:00:01.000Z');
  const charge = await quota.charge('k2', 4, 4, day);
  assert.equal((await quota.charge('k2', 4, 4, next)).allowed, true, 'a new day starts from zero');
  await quota.refund('k2', 4, charge.day);
  assert.equal(await quota.used('k2', day), 0);
  assert.equal(await quota.used('k2', next), 4);
  assert.ok((await t.redis.ttl(`${t.prefix}:access:quota:k2:2031-05-09`)) > 86_400, 'the counter expires by itself');
});

test('the reset is the next UTC midnight', () => {
  const now = new Date('2031-12-31T23:00:00.000Z');
  assert.deepEqual(nextUtcMidnight(now), new Date('2032-01-01T00:00:00.000Z'));
  assert.equal(secondsUntil(nextUtcMidnight(now), now), 3600);
});
