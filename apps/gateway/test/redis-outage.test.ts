// While Redis is away the gateway answers 503 queue_unavailable with Retry-After instead of hanging,
// and carries on once Redis is back. A redis-server of the test's own, on a free port, is stopped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { loadEnv } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import { createObjectStorage, storageOptionsFromEnv, type ObjectStorage } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { buildGateway, createJobQueues, type Gateway } from '../src/index.ts';

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

async function stopRedis(): Promise<void> {
  const child = redis!;
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
