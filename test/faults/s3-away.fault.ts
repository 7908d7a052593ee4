// Fault: the S3 server away for 20 s while images are generated and stored. Uploads retry within
// S3_RETRY_WINDOW_MS (60 s here, the default), so every job succeeds and each result's objects are
// in S3 as it names them; no job's error names an internal address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFaultCluster, type FaultCluster } from '../support/fault-cluster.ts';
import { sleep } from '../support/gateway-client.ts';
import { assertKeptPromises, jobMix, progress, recordLedger, settle, startProbe, submitAll } from './scenario.ts';

let cluster: FaultCluster | undefined;
after(async () => {
  await cluster?.close();
});

test('S3 away for 20 s: uploads wait for it, every job succeeds, results and objects agree', async () => {
  cluster = await startFaultCluster({ name: 's3-away' });
  await cluster.startWorker();
  progress('cluster up: gateway, worker, Redis, S3 (its own process)');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const first = await submitAll(cluster, jobMix(6, 's3-away-a'));
  ids.push(...first.ids);
  await cluster.s3.stop();
  progress('S3 stopped for 20 s while jobs run and more are submitted');
  const during = await submitAll(cluster, jobMix(6, 's3-away-b'), 1000);
  ids.push(...during.ids);
  const notReady = await cluster.client.request('GET', '/readyz');
  console.log(`readyz while S3 is away: ${notReady.status} ${notReady.text}`);
  await sleep(20_000 - 6 * 1000);
  await cluster.s3.start();
  const backAt = new Date().toISOString();
  progress('S3 back: waiting for every job to finish');

  const outcome = await settle(cluster, { ids, neverAccepted: first.neverAccepted + during.neverAccepted, refused: first.refused + during.refused });
  await probe.stop();
  recordLedger('S3 away 20 s', outcome);
  await assertKeptPromises(cluster, outcome, 'S3 away');
  const waited = ids.filter((id) => ['text-to-image', 'curate'].includes(outcome.views.get(id).type) && outcome.views.get(id).finishedAt > backAt);
  progress(`${waited.length} image jobs finished after S3 came back`);
  assert.ok(waited.length > 0, 'image jobs were storing their pictures during the outage, and waited for S3');
  for (const id of ids) {
    const view = outcome.views.get(id);
    assert.doesNotMatch(JSON.stringify(view.error ?? {}), /127\.0\.0\.1|localhost|ECONNREFUSED|:\d{4,5}\b/, 'a job error names no internal address');
    assert.equal(view.status, 'succeeded', `job ${id}: ${JSON.stringify(view.error)}`);
  }
});
