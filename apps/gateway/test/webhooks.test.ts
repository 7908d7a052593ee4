// Webhooks at submission: a URL that could never be delivered to, or an anonymous job's webhook that
// nothing could sign, is refused with 400 naming the field, and nothing is enqueued.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadEnv } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import { KeyStore } from '@curator/access';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

let t: TestEnvironment;
let storage: ObjectStorage;
const opened: Array<{ app: Gateway; queues: JobQueues }> = [];
const secret = `whsec_${randomBytes(32).toString('base64')}`;

before(async () => {
  t = await testEnvironment({ roles: [] });
  storage = createObjectStorage(storageOptionsFromEnv(t.env));
});

after(async () => {
  for (const { app, queues } of opened) {
    await app.close();
    await queues.close();
  }
  storage.close();
  await t.close();
});

/** A gateway on this test's Redis with these settings (FETCH_ALLOW_PRIVATE off: the production rules). */
async function gateway(vars: Record<string, string>): Promise<{ app: Gateway; queues: JobQueues }> {
  const env = loadEnv({ ...t.vars, FETCH_ALLOW_PRIVATE: 'false', ...vars });
  const queues = createJobQueues(env, createLogger('test', 'silent'));
  await queues.ready();
  const app = await buildGateway({ env, queues, storage, metrics: createMetrics({ process: 'gateway' }) });
  await app.ready();
  opened.push({ app, queues });
  return { app, queues };
}

const classify = (webhook?: unknown) => ({ type: 'classify', input: { text: 'The harbour reopened.' }, ...(webhook ? { webhook } : {}) });
const post = (app: Gateway, payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/jobs', payload: payload as object, headers });
const queued = async (queues: JobQueues) => (await queues.depths()).filter((d) => d.state === 'waiting').reduce((sum, d) => sum + d.count, 0);

test('a webhook URL that can never be delivered to is a 400 naming webhook.url, and nothing is enqueued', async () => {
  const { app, queues } = await gateway({ WEBHOOK_SECRET: secret });
  const before = await queued(queues);
  const refused: Array<[string, RegExp]> = [
    ['http://127.0.0.1:8080/hook', /private, loopback/],
    ['http://10.0.0.7/hook', /private, loopback/],
    ['http://169.254.169.254/latest/meta-data/', /private, loopback/],
    ['http://[::1]/hook', /private, loopback/],
    ['http://localhost/hook', /localhost/],
    ['https://hooks.example.com:8443/hook', /port 8443/],
    ['https://user:secret@hooks.example.com/hook', /credentials/],
  ];
  for (const [url, problem] of refused) {
    const response = await post(app, classify({ url }));
    assert.equal(response.statusCode, 400, url);
    const { error } = response.json();
    assert.equal(error.code, 'validation_failed');
    assert.equal(error.details[0].path, 'webhook.url', url);
    assert.match(error.details[0].message, problem, url);
  }
  const batch = await post(app, { jobs: [classify({ url: 'https://hooks.example.com/ok' }), classify({ url: 'http://192.168.1.1/hook' })] });
  assert.equal(batch.statusCode, 400);
  assert.deepEqual(batch.json().error.details.map((d: { path: string }) => d.path), ['jobs.1.webhook.url']);
  const original = await post(app, classify());
  const rerun = await app.inject({ method: 'POST', url: `/jobs/${original.json().id}/rerun`, payload: { webhook: { url: 'http://[fd00::1]/hook' } } });
  assert.equal(rerun.statusCode, 400);
  assert.deepEqual(rerun.json().error.details.map((d: { path: string }) => d.path), ['webhook.url']);
  assert.equal(await queued(queues), before + 1, 'only the original was enqueued');
});

test('an accepted webhook shows on the job, with no deliveries yet', async () => {
  const { app } = await gateway({ WEBHOOK_SECRET: secret });
  const accepted = await post(app, classify({ url: 'https://hooks.example.com/curator' }));
  assert.equal(accepted.statusCode, 202);
  const job = (await app.inject({ method: 'GET', url: `/jobs/${accepted.json().id}` })).json();
  assert.deepEqual(job.webhook, { url: 'https://hooks.example.com/curator', events: ['completed'], deliveries: [] });
  const plain = await post(app, classify());
  assert.equal((await app.inject({ method: 'GET', url: `/jobs/${plain.json().id}` })).json().webhook, null);
});

test('without WEBHOOK_SECRET an anonymous job cannot ask for a webhook; a key signs with its own secret', async () => {
  const { app, queues } = await gateway({});
  const anonymous = await post(app, classify({ url: 'https://hooks.example.com/curator' }));
  assert.equal(anonymous.statusCode, 400);
  const { error } = anonymous.json();
  assert.equal(error.details[0].path, 'webhook');
  assert.match(error.details[0].message, /WEBHOOK_SECRET/);
  assert.equal((await post(app, classify())).statusCode, 202, 'a job without a webhook is fine');

  const created = await new KeyStore(queues.redis, t.env.QUEUE_PREFIX).create({ name: 'webhook sender' });
  const keyed = await post(app, classify({ url: 'https://hooks.example.com/curator' }), { authorization: `Bearer ${created.secret}` });
  assert.equal(keyed.statusCode, 202, JSON.stringify(keyed.json()));
});
