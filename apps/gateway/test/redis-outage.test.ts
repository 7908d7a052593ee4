// While Redis is away the gateway answers 503 queue_unavailable with Retry-After instead of hanging,
// and carries on once Redis is back; while it is frozen the access plugin waits for no "are there keys?"
// read it already has an answer to. A redis-server of the test's own, on a free port, is stopped and frozen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { KeyStore } from '@curator/access';
import { loadEnv } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';
import { KeyPresence } from '../src/plugins/access.ts';

let t: TestEnvironment;
let port: number;
let redis: ChildProcess | null = null;
let app: Gateway;
let queues: JobQueues;
let storage: ObjectStorage;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });

const answers = (p: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: p });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => answers(port), Boolean, `redis-server on ${port}`);
}

/** SIGSTOP: connections stay open, nothing is answered (a hung Redis); commands end at REDIS_COMMAND_TIMEOUT_MS. */
const freezeRedis = () => redis!.kill('SIGSTOP');
const thawRedis = () => redis!.kill('SIGCONT');

async function stopRedis(): Promise<void> {
  const child = redis!;
  child.kill('SIGCONT');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  redis = null;
}

before(async () => {
  t = await testEnvironment({ roles: [] });
  port = await freePort();
  await startRedis();
  const env = loadEnv({ ...t.vars, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_COMMAND_TIMEOUT_MS: '500' });
  queues = createJobQueues(env, createLogger('test', 'silent'));
  await queues.ready();
  storage = createObjectStorage(storageOptionsFromEnv(env));
  await storage.ensureBucket();
  app = await buildGateway({ env, queues, storage, metrics: createMetrics({ process: 'gateway' }) });
  await app.ready();
});

after(async () => {
  await app.close();
  await queues.close();
  storage.close();
  if (redis) await stopRedis();
  await t.close();
});

const submit = () => app.inject({ method: 'POST', url: '/jobs', payload: { type: 'classify', input: { text: 'is anyone there?' } } });

test('while Redis is down, submitting and reading jobs answer 503 queue_unavailable with Retry-After; afterwards they work again', async () => {
  const accepted = await submit();
  assert.equal(accepted.statusCode, 202);
  const { id } = accepted.json();

  await stopRedis();
  for (const res of [await submit(), await app.inject({ method: 'GET', url: `/jobs/${id}` }), await app.inject({ method: 'GET', url: `/jobs?ids=${id}` }), await app.inject({ method: 'POST', url: `/jobs/${id}/cancel` })]) {
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error.code, 'queue_unavailable');
    assert.ok(Number(res.headers['retry-after']) > 0, 'says when to try again');
  }
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the process itself is fine');
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.notEqual(ready.json().checks.redis, 'ok');

  await startRedis();
  // Redis came back empty (no persistence in this test); new work is taken again.
  const again = await waitFor(submit, (res) => res.statusCode === 202, 'the gateway to reconnect');
  assert.equal(again.json().status, 'queued');
});

/** The gateway's own KeyStore on the gateway's Redis connection, counting its "are there keys?" reads. */
class CountingKeyStore extends KeyStore {
  started = 0;
  settled = 0;
  override async hasActiveKeys(): Promise<boolean> {
    this.started++;
    try {
      return await super.hasActiveKeys();
    } finally {
      this.settled++;
    }
  }
}

test('while Redis is frozen, "are there keys?" is answered from the last read at once and read again in the background; before any read it waits', async () => {
  const prefix = `${t.env.QUEUE_PREFIX}:presence`;
  const keys = new CountingKeyStore(queues.redis, prefix);
  const warnings: string[] = [];
  const log = { warn: (_fields: unknown, message: string) => void warnings.push(message) };
  // Refresh at every call, so the answer is always stale: each get() may start a read.
  const presence = new KeyPresence(keys, 0, log);
  assert.equal(await presence.get(), false, 'no keys yet (a blocking first read)');
  await keys.create({ name: 'presence' });
  await waitFor(() => presence.get(), (present) => present, 'a new key to be noticed');
  await waitFor(async () => keys.settled, (settled) => settled === keys.started, 'the reads to end');

  freezeRedis();
  try {
    const started = keys.started;
    assert.equal(await presence.get(), true, 'the known answer');
    assert.equal(keys.started, started + 1, 'a read in the background');
    assert.equal(keys.settled, started, 'the answer came while that read was still hanging');
    for (let i = 0; i < 5; i++) assert.equal(await presence.get(), true);
    assert.equal(keys.started, started + 1, 'one read in flight at a time');
    // It fails at the command timeout: logged (once), the known answer kept.
    await waitFor(async () => keys.settled, (settled) => settled === started + 1, 'the hung read to time out');
    assert.equal(await presence.get(), true);
    await waitFor(async () => keys.settled, (settled) => settled === started + 2, 'the next hung read to time out');
    assert.equal(await presence.get(), true);
    assert.equal(warnings.length, 1, `failures are logged now and then, not each time: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0]!, /last answer \(keys required\)/);

    // Nothing known yet: the first answer waits for Redis, and a hung Redis is 503 queue_unavailable.
    const fresh = new KeyPresence(keys, 0, log);
    await assert.rejects(fresh.get(), (error: { code?: string }) => error.code === 'queue_unavailable');
    // A key verified meanwhile is an answer.
    const verified = new KeyPresence(keys, 0, log);
    verified.sawKey();
    assert.equal(await verified.get(), true);
  } finally {
    thawRedis();
  }
  await waitFor(async () => keys.settled, (settled) => settled === keys.started, 'the reads to end after the thaw');
  // A read that began before a key was verified and says "none" (its keys revoked since, or made
  // after it looked) does not overrule the key seen: the next read decides.
  const empty = new CountingKeyStore(queues.redis, `${prefix}:empty`);
  const seen = new KeyPresence(empty, 0, log);
  assert.equal(await seen.get(), false);
  assert.equal(await seen.get(), false, 'the known answer; a read starts');
  seen.sawKey();
  await waitFor(async () => empty.settled, (settled) => settled === empty.started, 'that read to end');
  assert.equal(await seen.get(), true, 'the key seen stands');
});
