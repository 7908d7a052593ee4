// Fault: workers killed with SIGKILL mid-job, twice for the same jobs. Two jobs are held mid-run
// (their article page answers only when the test says so) while the first and then the second worker
// are killed; a third worker finishes them. Other work runs beside them all along.
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

test('worker SIGKILL mid-job, twice for the same job: it runs again on the next worker and succeeds within its attempts', async () => {
  articles = await startArticleServer();
  cluster = await startFaultCluster({ name: 'sigkill' });
  const first = await cluster.startWorker();
  progress('cluster up: gateway, worker 1, Redis, S3');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const held = ['/held/a', '/held/b'];
  const submitted = await submitAll(cluster, [...held.map((path) => urlJob(articles!, path)), ...jobMix(10, 'sigkill')]);
  ids.push(...submitted.ids);

  await Promise.all(held.map((path) => articles!.arrived(path, 1)));
  progress('two jobs held mid-run on worker 1: SIGKILL');
  assert.equal(await cluster.kill(first, 'SIGKILL'), null);
  const second = await cluster.startWorker();
  await Promise.all(held.map((path) => articles!.arrived(path, 2)));
  progress('the same jobs held mid-run on worker 2: SIGKILL');
  assert.equal(await cluster.kill(second, 'SIGKILL'), null);
  await cluster.startWorker();
  await Promise.all(held.map((path) => articles!.arrived(path, 3)));
  progress('worker 3 runs them: releasing their pages');
  for (const path of held) articles.release(path.split('/')[2]!);

  const outcome = await settle(cluster, submitted, { articles, articlePaths: new Map(held.map((path, i) => [submitted.ids[i]!, path])) });
  await probe.stop();
  recordLedger('worker SIGKILL x2 mid-job', outcome);
  await assertKeptPromises(cluster, outcome, 'worker SIGKILL x2');
  for (const [i, path] of held.entries()) {
    const view = outcome.views.get(submitted.ids[i]!);
    assert.equal(view.status, 'succeeded', `the job held at ${path} survived two dead workers: ${JSON.stringify(view.error)}`);
    assert.equal(view.attempts.made, 3, 'each death used one attempt');
    assert.equal(articles.arrivals(path), 3, 'fetched once per attempt');
  }
  for (const id of submitted.ids.slice(held.length)) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
});
