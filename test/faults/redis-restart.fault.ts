// Fault: Redis crashes (SIGKILL) and restarts with persistence on (AOF), while jobs wait, run and
// are submitted. Nothing accepted is lost; submissions made while it is down are refused (503) and
// accepted once it is back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArticleServer, type ArticleServer } from '../support/article-server.ts';
import { startFaultCluster, type FaultCluster } from '../support/fault-cluster.ts';
import { sleep } from '../support/gateway-client.ts';
import { assertKeptPromises, jobMix, progress, recordLedger, settle, startProbe, submitAll, urlJob } from './scenario.ts';

let cluster: FaultCluster | undefined;
let articles: ArticleServer | undefined;
after(async () => {
  await cluster?.close();
  await articles?.close();
});

test('Redis restart with persistence on: every accepted job finishes, in flight or waiting', async () => {
  articles = await startArticleServer();
  cluster = await startFaultCluster({ name: 'redis-restart' });
  await cluster.startWorker();
  progress('cluster up: gateway, worker, Redis (AOF), S3');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const before = await submitAll(cluster, [urlJob(articles, '/held/a'), ...jobMix(8, 'redis-restart-a')]);
  ids.push(...before.ids);
  await articles.arrived('/held/a', 1);
  progress('jobs waiting and one held mid-run: Redis crashes (SIGKILL) while a client submits');

  // A client keeps submitting through the restart.
  const during = submitAll(cluster, jobMix(6, 'redis-restart-b'), 200);
  await cluster.redis.crash();
  await sleep(1500);
  await cluster.redis.start();
  progress('Redis restarted from its AOF');
  const later = await during;
  ids.push(...later.ids);
  articles.release('a');
  progress('the held job released: waiting for every job to finish');

  const outcome = await settle(cluster, { ids, neverAccepted: before.neverAccepted + later.neverAccepted, refused: before.refused + later.refused }, { articles, articlePaths: new Map([[before.ids[0]!, '/held/a']]) });
  await probe.stop();
  recordLedger('Redis restart (AOF)', outcome);
  await assertKeptPromises(cluster, outcome, 'Redis restart');
  for (const id of ids) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
});
