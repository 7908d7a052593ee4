// The benches' Queue.add route (`@curator/queue/bench-peer`) is the issue's reference only if its jobs are
// Curator's: the same stored options, id scheme and data as a job JobQueues.submit makes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { jobRequestSchema } from '@curator/contracts';
import { JobQueues, isJobId, type QueueSettings } from '../src/index.ts';
import { createQueueAddPeer } from '@curator/queue/bench-peer';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const settings: QueueSettings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 3, backoffMs: 250, ttlSeconds: 600 };
const redis = new Redis(redisUrl);

after(async () => {
  const found = await redis.keys(`${settings.prefix}:*`);
  if (found.length > 0) await redis.del(...found);
  redis.disconnect();
});

test("the bench peer's Queue.add stores a job as JobQueues.submit does: same options, id scheme, data and pool", async () => {
  const queues = new JobQueues({ settings, commandTimeoutMs: 5000, logger: silent });
  const peer = await createQueueAddPeer(settings, 5000);
  try {
    await queues.ready();
    const [submitted] = await queues.submit([jobRequestSchema.parse({ type: 'classify', input: { text: 'submitted' } })]);
    const added = await peer.add(jobRequestSchema.parse({ type: 'classify', input: { text: 'added' } }));
    assert.ok(isJobId(added.id), `a Curator job id: ${added.id}`);
    const stored = async (id: string) => redis.hgetall(`${settings.prefix}:text:${id}`);
    const [a, b] = [await stored(submitted!.id), await stored(added.id)];
    assert.equal(b.name, a.name);
    // Each names its own id, and JobQueues.submit states the creation time (one for its whole group commit).
    const options = (opts: string) => {
      const { jobId, timestamp: _timestamp, ...rest } = JSON.parse(opts) as Record<string, unknown>;
      return { ...rest, idIsJobId: isJobId(String(jobId)) };
    };
    assert.deepEqual(options(b.opts!), options(a.opts!), 'the same job options');
    assert.deepEqual(Object.keys(JSON.parse(b.data!)).sort(), Object.keys(JSON.parse(a.data!)).sort(), 'the same stored data fields');
    const view = await queues.get(added.id);
    assert.equal(view?.status, 'queued');
    assert.equal(view?.type, 'classify');
  } finally {
    await peer.close();
    await queues.close();
  }
});
