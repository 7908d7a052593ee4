// Fault: a worker stopped with SIGTERM mid-job (a deploy, a scale-down). Jobs that cannot finish
// within its grace period (held mid-run here) are handed back and run from the start by another
// worker; the stopped worker exits 0; nothing fails for it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArticleServer, type ArticleServer } from '../support/article-server.ts';
import { startFaultCluster, type FaultCluster } from '../support/fault-cluster.ts';
import { assertKeptPromises, jobMix, progress, recordLedger, settle, startProbe, submitAll, urlJob } from './scenario.ts';

let cluster: FaultCluster | undefined;
let articles: ArticleServer | undefined;
after(async () => {
  await cluster?.close();
  await articles?.close();
});

test('worker SIGTERM mid-job: it exits cleanly after its grace period, and another worker runs the jobs it handed back', async () => {
  articles = await startArticleServer();
  cluster = await startFaultCluster({ name: 'sigterm' });
  const stopping = await cluster.startWorker();
  progress('cluster up: gateway, worker 1, Redis, S3');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const held = ['/held/a', '/held/b'];
  const submitted = await submitAll(cluster, [...held.map((path) => urlJob(articles!, path)), ...jobMix(10, 'sigterm')]);
  ids.push(...submitted.ids);

  await Promise.all(held.map((path) => articles!.arrived(path, 1)));
  progress('two jobs held mid-run on worker 1: SIGTERM, and worker 2 starts');
  const [code] = await Promise.all([cluster.kill(stopping, 'SIGTERM'), cluster.startWorker()]);
  assert.equal(code, 0, `the stopped worker exits 0\n${cluster.logTail()}`);
  await Promise.all(held.map((path) => articles!.arrived(path, 2)));
  progress('worker 2 runs the handed-back jobs: releasing their pages');
  for (const path of held) articles.release(path.split('/')[2]!);

  const outcome = await settle(cluster, submitted, { articles, articlePaths: new Map(held.map((path, i) => [submitted.ids[i]!, path])) });
  await probe.stop();
  recordLedger('worker SIGTERM mid-job', outcome);
  await assertKeptPromises(cluster, outcome, 'worker SIGTERM');
  for (const id of submitted.ids) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
  for (const path of held) assert.equal(articles.arrivals(path), 2, `${path}: fetched by the stopped worker, then once by the next`);
});
