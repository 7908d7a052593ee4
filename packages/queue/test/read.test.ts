// Reading jobs back: the pool a job was found in is remembered, and a remembered pool that no longer has the
// job is not trusted (an id derived from an Idempotency-Key can come back as another type's job).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobRequestSchema } from '@curator/contracts';
import { JobQueues, type QueueSettings } from '../src/index.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const settings: QueueSettings = { redisUrl, prefix: `curator-test-${randomUUID().slice(0, 8)}`, attempts: 1, backoffMs: 10, ttlSeconds: 600 };
const redis = new Redis(redisUrl);

after(async () => {
  const found = await redis.keys(`${settings.prefix}:*`);
  if (found.length > 0) await redis.del(...found);
  redis.disconnect();
});

test('a job is read from whichever pool has it, also after its id moved to the other pool', async () => {
  const queues = new JobQueues({ settings, commandTimeoutMs: 5000, logger: silent });
  const bull = { text: new Queue('text', { connection: redis, prefix: settings.prefix }), image: new Queue('image', { connection: redis, prefix: settings.prefix }) };
  try {
    await queues.ready();
    const [image] = await queues.submit([jobRequestSchema.parse({ type: 'text-to-image', input: { prompt: 'a lighthouse' } })]);
    const [text] = await queues.submit([jobRequestSchema.parse({ type: 'classify', input: { text: 'a harbour' } })]);
    for (let read = 0; read < 2; read++) {
      assert.equal((await queues.get(image!.id))?.type, 'text-to-image', `read ${read + 1}`);
      assert.equal((await queues.get(text!.id))?.type, 'classify', `read ${read + 1}`);
    }
    assert.equal(await queues.get(randomUUID()), null, 'an unknown id');

    // The text job's id comes back as an image job (as an expired idempotent job's id can): the read finds it there.
    const stored = await redis.hget(`${settings.prefix}:text:${text!.id}`, 'data');
    await bull.text.remove(text!.id);
    assert.equal(await queues.get(text!.id), null, 'removed');
    await queues.get(image!.id);
    const data = { ...JSON.parse(stored!), request: jobRequestSchema.parse({ type: 'text-to-image', input: { prompt: 'again' } }) };
    await bull.image.add('text-to-image', data, { jobId: text!.id });
    const back = await queues.get(text!.id);
    assert.equal(back?.type, 'text-to-image');
    assert.equal(back?.status, 'queued');
  } finally {
    await Promise.all(Object.values(bull).map((q) => q.close()));
    await queues.close();
  }
});
