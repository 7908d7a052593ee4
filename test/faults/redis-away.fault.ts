// Fault: Redis away for longer than the gateway's command timeout: first stopped (connections
// refused) for 8 s, then frozen (SIGSTOP: connections open, nothing answered) for 5 s. The gateway
// answers 503 queue_unavailable with Retry-After instead of hanging; clients retry with the same
// Idempotency-Key; no refused submission is enqueued behind their back; accepted jobs all finish.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFaultCluster, type FaultCluster } from '../support/fault-cluster.ts';
import { sleep } from '../support/gateway-client.ts';
import { assertKeptPromises, jobMix, progress, recordLedger, settle, startProbe, submitAll } from './scenario.ts';

let cluster: FaultCluster | undefined;
after(async () => {
  await cluster?.close();
});

test('Redis away longer than the client timeout: 503 with Retry-After, no hang, no job enqueued behind a refused client, none lost', async () => {
  cluster = await startFaultCluster({ name: 'redis-away' });
  await cluster.startWorker();
  progress('cluster up: gateway, worker, Redis (AOF), S3');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const before = await submitAll(cluster, jobMix(4, 'redis-away-a'));
  ids.push(...before.ids);

  // Two clients keep submitting through both outages.
  const clients = [submitAll(cluster, jobMix(12, 'redis-away-b'), 700), submitAll(cluster, jobMix(12, 'redis-away-c'), 900)];
  await sleep(500);
  progress('Redis stopped for 8 s while two clients submit');
  await cluster.redis.stop();
  await sleep(8000);
  await cluster.redis.start();
  await sleep(2000);
  progress('Redis back; now frozen (SIGSTOP) for 5 s');
  cluster.redis.freeze();
  await sleep(5000);
  cluster.redis.thaw();
  progress('Redis thawed: waiting for the clients and the jobs');
  const during = await Promise.all(clients);
  for (const d of during) ids.push(...d.ids);

  const refused = before.refused + during.reduce((n, d) => n + d.refused, 0);
  const neverAccepted = before.neverAccepted + during.reduce((n, d) => n + d.neverAccepted, 0);
  const replayed = before.replayed + during.reduce((n, d) => n + d.replayed, 0);
  const outcome = await settle(cluster, { ids, neverAccepted, refused, replayed });
  await probe.stop();
  recordLedger('Redis away 8 s + frozen 5 s', outcome);
  const unavailable = cluster.client.observations.filter((o) => o.status === 503);
  assert.ok(unavailable.length > 0, 'the gateway said 503 while Redis was away (rather than waiting for it)');
  assert.ok(unavailable.every((o) => o.code === 'queue_unavailable'), 'as queue_unavailable');
  // While Redis was frozen, submissions were answered 503 whose commands Redis ran when it thawed (the
  // ghosts this scenario found before Idempotency-Key): their retries got the first attempt's job back.
  assert.ok(outcome.replayed > 0, 'some retry was answered with the job of an attempt that reached Redis after its 503 (Idempotent-Replayed)');
  await assertKeptPromises(cluster, outcome, 'Redis away');
  for (const id of ids) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
});
