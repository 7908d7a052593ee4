// The content policy on a curate job's generated text, before its image: a real worker on the
// generated test models. The test models' text means nothing, so the blocked term is a word the
// same job generated on a worker without a policy (generation is deterministic at temperature 0).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeyStore, normalizeForTerms, wordsOf } from '@curator/access';
import { loadEnv } from '@curator/config';
import { parseOrThrow, jobRequestSchema, type StoredJobView } from '@curator/contracts';
import { JobQueues, queueSettingsFromEnv } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { startWorker, type RunningWorker } from '../src/index.ts';

let t: TestEnvironment;
let queues: JobQueues;
let storage: ObjectStorage;
let keys: KeyStore;

const request = {
  type: 'curate',
  input: { text: 'Fishermen returned to the harbour at dawn as repairs ended. Shops on the quay reopened and the ferry ran again.', title: 'Harbour reopens' },
  params: { seed: 5, image: { width: 64, height: 64, steps: 2 } },
};

before(async () => {
  t = await testEnvironment();
  queues = new JobQueues({ settings: queueSettingsFromEnv(t.env), commandTimeoutMs: 5000, logger: createLogger('test', 'silent') });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
  await storage.ensureBucket();
  keys = new KeyStore(t.redis, t.env.QUEUE_PREFIX);
});

after(async () => {
  await queues.close();
  storage.close();
  await t.close();
});

async function withWorker<T>(vars: Record<string, string>, run: (worker: RunningWorker) => Promise<T>): Promise<T> {
  const worker = await startWorker({ env: loadEnv({ ...t.vars, ...vars }), storage, metrics: createMetrics({ process: 'worker' }), logger: createLogger('test', 'silent') });
  try {
    return await run(worker);
  } finally {
    await worker.close();
  }
}

const submit = async (owner?: string) => (await queues.submit([parseOrThrow(jobRequestSchema, request)], owner ? { owner } : {}))[0]!.id;
const finished = (id: string) => waitFor(() => queues.get(id), (v): v is StoredJobView => !!v && ['succeeded', 'failed', 'canceled'].includes(v.status), `job ${id} to finish`, 180_000);

/** A refused job: failed with content_policy naming the generated field, its image never drawn. */
async function assertRefusedBeforeImage(job: StoredJobView): Promise<void> {
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.code, 'content_policy');
  assert.match(job.error!.message, /generated summary: no image was generated/);
  assert.deepEqual(job.error?.details, [{ path: 'summary', message: 'contains a blocked term' }]);
  assert.equal(job.attempts.made, 1, 'not retried');
  const stages = Object.fromEntries(job.stages.map((s) => [s.name, s.status]));
  assert.equal(stages.summarize, 'succeeded');
  assert.notEqual(stages.image, 'succeeded');
  assert.notEqual(stages.card, 'succeeded');
  assert.equal(await storage.exists(`jobs/${job.id}/card.png`), false);
  assert.equal(await storage.exists(`jobs/${job.id}/image-0.png`), false);
}

let blocked = '';

test("a key's own blocked term refuses its curate job before the image; other callers' same job runs", async () => {
  await withWorker({}, async () => {
    const clean = await finished(await submit());
    assert.equal(clean.status, 'succeeded', JSON.stringify(clean.error));
    const summary = (clean.result as { summary: string }).summary;
    blocked = wordsOf(normalizeForTerms(summary)).find((word) => /\p{L}{3,}/u.test(word)) ?? '';
    assert.ok(blocked, `a word to block in ${JSON.stringify(summary)}`);

    const { key } = await keys.create({ name: 'strict', contentPolicy: { terms: [blocked] } });
    await assertRefusedBeforeImage(await finished(await submit(key.id)));
    const { key: relaxed } = await keys.create({ name: 'relaxed' });
    assert.equal((await finished(await submit(relaxed.id))).status, 'succeeded');
  });
});

test("the deployment's policy refuses it for everyone but exempt keys", async () => {
  assert.ok(blocked, 'the first test found a word');
  await withWorker({ CONTENT_POLICY_TERMS: blocked }, async () => {
    await assertRefusedBeforeImage(await finished(await submit()));
    const { key } = await keys.create({ name: 'exempt', contentPolicy: { exempt: true } });
    assert.equal((await finished(await submit(key.id))).status, 'succeeded');
  });
});
