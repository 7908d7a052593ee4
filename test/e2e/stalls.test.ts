// Workers killed with SIGKILL mid-job (no chance to hand the job back): the job moves to the next
// worker once its lock runs out, each death uses one of its attempts, and a job out of attempts
// fails with `worker_lost` instead of staying stuck. Real worker processes, real Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jobRequestSchema, type StoredJobView } from '@curator/contracts';
import { JobQueues, queueSettingsFromEnv } from '@curator/queue';
import { createLogger } from '@curator/telemetry';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { run, type Running } from '../support/processes.ts';

let t: TestEnvironment;
let server: Server;
let base: string;
/** Requests for each article path, held open until the test answers them (or their worker dies). */
const arrivals = new Map<string, ServerResponse[]>();

const article = `<!doctype html><html lang="en"><head><title>Harbour reopens</title></head><body><article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Monday after a week of repairs, and fishermen returned to work at dawn.</p>
<p>Officials said the new sea wall held well during the last storm, and that shops along the quay will reopen too.</p></article></body></html>`;

before(async () => {
  // A short lock (1 s): a dead worker's job moves on within a second or two.
  t = await testEnvironment({ vars: { LOG_LEVEL: 'info', FETCH_ALLOW_PRIVATE: 'true', FETCH_TIMEOUT_MS: '120000', WORKER_LOCK_MS: '1000', WORKER_POOLS: 'text', JOB_ATTEMPTS: '3' } });
  server = createServer((req, res) => {
    const list = arrivals.get(req.url!) ?? [];
    list.push(res);
    arrivals.set(req.url!, list);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  server.close();
  await t.close();
});

const arrived = (path: string, count: number) => waitFor(async () => arrivals.get(path)?.length ?? 0, (n) => n >= count, `fetch number ${count} of ${path}`, 120_000);

async function startWorker(): Promise<Running> {
  const worker = run('apps/worker/src/main.ts', [], t.vars);
  await worker.waitForLog((e) => e.msg === 'worker ready');
  return worker;
}

async function kill(worker: Running): Promise<void> {
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGKILL');
  await exited;
}

test('a job whose worker is SIGKILLed twice runs on a third worker while attempts remain; out of attempts it fails with worker_lost', async () => {
  const logger = createLogger('test', 'silent');
  // Both jobs are submitted here: one with three attempts, one with two.
  const three = new JobQueues({ settings: queueSettingsFromEnv(t.env), commandTimeoutMs: 5000, logger });
  const two = new JobQueues({ settings: { ...queueSettingsFromEnv(t.env), attempts: 2 }, commandTimeoutMs: 5000, logger });
  try {
    const survivor = (await three.submit([jobRequestSchema.parse({ type: 'classify', input: { url: `${base}/survivor` } })]))[0]!.id;
    const lost = (await two.submit([jobRequestSchema.parse({ type: 'classify', input: { url: `${base}/lost` } })]))[0]!.id;

    // Each worker takes both jobs, which wait on their article while the worker is killed.
    for (let death = 1; death <= 2; death++) {
      const worker = await startWorker();
      await Promise.all([arrived('/survivor', death), arrived('/lost', death)]);
      await kill(worker);
    }

    const third = await startWorker();
    try {
      await arrived('/survivor', 3);
      arrivals.get('/survivor')!.at(-1)!.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(article);
      const done = (id: string) => waitFor(() => three.get(id), (v): v is StoredJobView => !!v && ['succeeded', 'failed', 'canceled'].includes(v.status), `job ${id} to finish`, 120_000);

      const survived = await done(survivor);
      assert.equal(survived.status, 'succeeded', JSON.stringify(survived.error));
      assert.deepEqual(survived.attempts, { made: 3, max: 3 }, 'each death used an attempt');

      const gone = await done(lost);
      assert.equal(gone.status, 'failed');
      assert.equal(gone.error?.code, 'worker_lost');
      assert.deepEqual(gone.attempts, { made: 2, max: 2 });
      assert.equal(arrivals.get('/lost')!.length, 2, 'not started a third time');

      const log = await third.waitForLog((e) => e.msg === 'running again a job whose worker stopped mid-job' && e.jobId === survivor);
      assert.equal(log.stalls, 2);
      await third.waitForLog((e) => String(e.msg).startsWith('job failed') && e.jobId === lost && e.code === 'worker_lost');
    } finally {
      assert.equal(await third.stop(), 0);
    }
  } finally {
    await three.close();
    await two.close();
  }
});
