// Fault: a page that exceeds the extraction budget (100,000 nested divs, 1.1 MB), the page that once
// wedged workers for minutes. Its job fails with `extraction_budget_exceeded`, is not retried (the page
// is fetched once), and the worker goes on with the jobs beside it.
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

test('a page over the extraction budget fails its job with extraction_budget_exceeded, once, and stalls nothing', async () => {
  articles = await startArticleServer({ deepDivs: 100_000 });
  cluster = await startFaultCluster({ name: 'extraction' });
  await cluster.startWorker();
  progress('cluster up; the article server serves 100,000 nested divs at /deep');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const pages = ['/article/a', '/article/b', '/article/c'];
  const submitted = await submitAll(cluster, [urlJob(articles, '/deep'), ...pages.map((path) => urlJob(articles!, path)), ...jobMix(8, 'extraction')]);
  ids.push(...submitted.ids);

  const outcome = await settle(cluster, submitted, { articles, articlePaths: new Map([[submitted.ids[0]!, '/deep'], ...pages.map((path, i) => [submitted.ids[i + 1]!, path] as [string, string])]) });
  await probe.stop();
  recordLedger('page over extraction budget', outcome);
  await assertKeptPromises(cluster, outcome, 'extraction budget');
  const deep = outcome.views.get(submitted.ids[0]!);
  assert.equal(deep.status, 'failed');
  assert.equal(deep.error.code, 'extraction_budget_exceeded');
  assert.equal(deep.attempts.made, 1, 'not retried: the page would overrun again');
  assert.equal(articles.arrivals('/deep'), 1, 'fetched once');
  for (const id of submitted.ids.slice(1)) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
});
