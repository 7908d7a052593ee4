// What every fault scenario shares: the work it submits, the checks it makes afterwards, and its
// line in the ledger (`accepted N, succeeded N, failed N (codes), lost 0`).
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { waitFor } from '@curator/testkit';
import type { ArticleServer } from '../support/article-server.ts';
import type { FaultCluster } from '../support/fault-cluster.ts';
import { isFinal, sleep } from '../support/gateway-client.ts';

const startedAt = performance.now();

/** One line per step of a scenario, with the time since the file started: a long run shows where it is. */
export function progress(message: string): void {
  console.log(`[faults +${((performance.now() - startedAt) / 1000).toFixed(1)} s, ${new Date().toISOString()}] ${message}`);
}

const articleText = (tag: string) =>
  `${tag}: The harbour reopened on Monday after a week of repairs, and fishermen returned to work at dawn. ` +
  'Officials said the new sea wall held well during the last storm, and that shops along the quay will reopen too.';

/**
 * `count` jobs of every type in turn, each with its own text (no stage is answered from the cache),
 * small enough for the generated models to finish in a second or two. Image jobs are seeded, so a
 * job run again writes the same objects; the seeds differ between tags too, because the generated
 * models may summarise different texts alike, and a curate job's picture is cached by its prompt
 * (the summary) and seed.
 */
export function jobMix(count: number, tag: string): object[] {
  const image = { width: 64, height: 64, steps: 2 };
  const seedOf = (i: number) => ([...tag].reduce((hash, c) => (hash * 31 + c.charCodeAt(0)) % 1_000_000, 7) * 100 + i) % 2 ** 31;
  const kinds = [
    (i: number) => ({ type: 'classify', input: { text: articleText(`${tag} ${i}`) } }),
    (i: number) => ({ type: 'text-to-image', input: { prompt: `a harbour at dawn, ${tag} ${i}` }, params: { ...image, seed: seedOf(i) } }),
    (i: number) => ({ type: 'summarize', input: { text: articleText(`${tag} ${i}`) }, params: { maxTokens: 8 } }),
    (i: number) => ({ type: 'curate', input: { text: articleText(`${tag} ${i}`), title: `Harbour ${tag} ${i}` }, params: { seed: seedOf(i), summaryMaxTokens: 8, headlineMaxTokens: 8, image } }),
    (i: number) => ({ type: 'classify', input: { text: articleText(`${tag} ${i}`) }, params: { task: 'genre' } }),
    (i: number) => ({ type: 'headline', input: { text: articleText(`${tag} ${i}`) }, params: { maxTokens: 8 } }),
  ];
  return Array.from({ length: count }, (_, i) => kinds[i % kinds.length]!(i));
}

/** A job that fetches its article from the article server (`/held/<slug>` waits until released). */
export const urlJob = (server: ArticleServer, path: string) => ({ type: 'classify', input: { url: `${server.base}${path}` } });

export interface Outcome {
  accepted: string[];
  views: Map<string, any>;
  lost: string[];
  /** Submissions never answered 202 within the client's patience. */
  neverAccepted: number;
  /** 503 answers to submissions (each retried with the same Idempotency-Key). */
  refused: number;
  /** Submissions accepted as a replay: an earlier attempt with the same key had reached Redis after all. */
  replayed: number;
  /** Jobs Redis holds that no 202 announced (a refused or timed-out submission enqueued anyway). */
  ghosts: string[];
  /** `id type status createdAt` of each ghost, for the failure message. */
  ghostDetails: string[];
  /** Object keys written again after their job was final, or article paths fetched again. */
  rerunAfterFinal: string[];
  /** Object keys of jobs that were written more than once (by more than one attempt). */
  rewrittenKeys: string[];
  latency: ReturnType<FaultCluster['client']['latency']>;
}

/** Submits jobs one after another (as a client would), returning their ids; null where never accepted. */
export async function submitAll(cluster: FaultCluster, requests: readonly object[], pauseMs = 0): Promise<{ ids: string[]; neverAccepted: number; refused: number; replayed: number }> {
  const ids: string[] = [];
  let neverAccepted = 0;
  let refused = 0;
  let replayed = 0;
  for (const request of requests) {
    const result = await cluster.client.submit(request);
    refused += result.refused;
    if (result.replayed) replayed++;
    if (result.id) ids.push(result.id);
    else neverAccepted++;
    if (pauseMs) await sleep(pauseMs);
  }
  return { ids, neverAccepted, refused, replayed };
}

/** Reads a job now and then while the scenario runs, so the gateway's answers during the fault are measured too. */
export function startProbe(cluster: FaultCluster, ids: () => readonly string[], everyMs = 150): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const known = ids();
      const id = known[Math.floor(Math.random() * known.length)];
      await cluster.client.request('GET', id ? `/jobs/${id}` : '/healthz', { route: id ? 'GET /jobs/:id' : 'GET /healthz' }).catch(() => undefined);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

function objectKeysOf(view: any): Array<{ key: string; bytes: number }> {
  if (view?.status !== 'succeeded' || !view.result) return [];
  if (view.type === 'text-to-image') return view.result.images.map((i: any) => ({ key: i.key, bytes: i.bytes }));
  if (view.type === 'curate') return [view.result.image.image, view.result.image.card].map((i: any) => ({ key: i.key, bytes: i.bytes }));
  return [];
}

/**
 * Waits for every accepted job to be final, then for a quiet spell (three locks) to see whether
 * anything ran again afterwards; compares Redis' jobs with the accepted ones; reads the gateway's
 * latency over every request of the scenario so far.
 */
export async function settle(
  cluster: FaultCluster,
  submitted: { ids: string[]; neverAccepted: number; refused: number; replayed?: number },
  options: { articles?: ArticleServer; articlePaths?: Map<string, string> } = {},
): Promise<Outcome> {
  const { views, lost } = await cluster.client.settle(submitted.ids);
  const latency = cluster.client.latency();
  const putsAtSettle = cluster.s3.puts();
  const fetchesAtSettle = new Map([...(options.articlePaths ?? new Map<string, string>()).values()].map((path) => [path, options.articles!.arrivals(path)]));
  await sleep(3 * Number(cluster.vars.WORKER_LOCK_MS));
  const putsLater = cluster.s3.puts();
  const rerunAfterFinal: string[] = [];
  for (const id of submitted.ids) {
    if (!isFinal(views.get(id))) continue;
    for (const [key, count] of putsLater) if (key.startsWith(`jobs/${id}/`) && count > (putsAtSettle.get(key) ?? 0)) rerunAfterFinal.push(key);
  }
  for (const [path, count] of fetchesAtSettle) if (options.articles!.arrivals(path) > count) rerunAfterFinal.push(path);
  const rewrittenKeys = [...putsLater].filter(([key, count]) => key.startsWith('jobs/') && count > 1).map(([key]) => key);
  const accepted = new Set(submitted.ids);
  const ghosts = [...(await cluster.jobIdsInRedis())].filter((id) => !accepted.has(id));
  const ghostViews = await cluster.client.views(ghosts);
  const ghostDetails = ghosts.map((id) => `${id} ${ghostViews.get(id)?.type} ${ghostViews.get(id)?.status} created ${ghostViews.get(id)?.createdAt}`);
  return { accepted: submitted.ids, views, lost, neverAccepted: submitted.neverAccepted, refused: submitted.refused, replayed: submitted.replayed ?? 0, ghosts, ghostDetails, rerunAfterFinal, rewrittenKeys, latency };
}

export function ledgerLine(scenario: string, outcome: Outcome): string {
  const views = outcome.accepted.map((id) => outcome.views.get(id));
  const succeeded = views.filter((v) => v?.status === 'succeeded').length;
  const failed = views.filter((v) => v?.status === 'failed' || v?.status === 'canceled');
  const codes = new Map<string, number>();
  for (const v of failed) codes.set(v.error?.code ?? v.status, (codes.get(v.error?.code ?? v.status) ?? 0) + 1);
  const codeList = [...codes].map(([code, n]) => `${code} x${n}`).join(', ');
  const { p50, p99, max, count, unanswered } = outcome.latency;
  return (
    `${scenario.padEnd(30)} accepted ${outcome.accepted.length}, succeeded ${succeeded}, failed ${failed.length} (${codeList}), lost ${outcome.lost.length}` +
    ` | ghosts ${outcome.ghosts.length}, 503s ${outcome.refused}, replayed ${outcome.replayed}, never accepted ${outcome.neverAccepted}, rewritten objects ${outcome.rewrittenKeys.length}, rerun after final ${outcome.rerunAfterFinal.length}` +
    ` | gateway p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${count} requests, unanswered ${unanswered}`
  );
}

/** Prints the scenario's ledger line, and appends it to FAULT_LEDGER_FILE when the fault runner (test/faults/run.ts) set one. */
export function recordLedger(scenario: string, outcome: Outcome): void {
  const line = ledgerLine(scenario, outcome);
  console.log(`ledger: ${line}`);
  const file = process.env.FAULT_LEDGER_FILE;
  if (file) appendFileSync(file, `${line}\n`);
}

/**
 * The promise every scenario keeps: no accepted job lost, none enqueued behind a client's back,
 * none run again once final, every result's objects in S3 as the result names them, the gateway
 * answering every request (in the error shape when it is an error, never a 500), and every process
 * healthy afterwards.
 */
export async function assertKeptPromises(cluster: FaultCluster, outcome: Outcome, scenario: string): Promise<void> {
  const context = () => `${scenario}\n${cluster.logTail()}`;
  assert.deepEqual(outcome.lost, [], `every accepted job reaches a final state; still open: ${outcome.lost.map((id) => JSON.stringify(outcome.views.get(id)?.status ?? 'unknown')).join(', ')}\n${context()}`);
  assert.equal(outcome.neverAccepted, 0, 'every submission was accepted in the end');
  const refusals = cluster.client.observations.filter((o) => o.route === 'POST /jobs' && o.status !== 202).map((o) => `${o.status || o.problem} at ${o.at}`);
  assert.deepEqual(
    outcome.ghostDetails,
    [],
    `no job was enqueued that the client was not told of (a refused submission must not run, a retry with the same Idempotency-Key must not run twice); submissions not accepted: ${refusals.join('; ')}`,
  );
  assert.deepEqual(outcome.rerunAfterFinal, [], 'no job ran again after it was final');
  for (const id of outcome.accepted) {
    const view = outcome.views.get(id);
    assert.ok(view.attempts.made <= view.attempts.max, `job ${id} made ${view.attempts.made} of ${view.attempts.max} attempts`);
    const named = objectKeysOf(view);
    if (named.length === 0) continue;
    const stored = await cluster.s3.list(`jobs/${id}/`);
    assert.deepEqual(
      stored.map((o) => `${o.key} ${o.bytes}`).sort(),
      named.map((o) => `${o.key} ${o.bytes}`).sort(),
      `job ${id}: the objects in S3 are exactly those its result names, at the sizes it names`,
    );
  }
  const unanswered = cluster.client.observations.filter((o) => o.status === 0);
  assert.deepEqual(unanswered.map((o) => `${o.route}: ${o.problem}`), [], 'the gateway answered every request (a hang fails the scenario)');
  const badErrors = cluster.client.observations.filter((o) => o.route !== 'GET /readyz' && o.status >= 400 && (!o.code || (o.status >= 500 && o.code !== 'queue_unavailable')));
  assert.deepEqual(badErrors, [], 'every error answer is in the contract shape, and the only 5xx is 503 queue_unavailable');
  await assertHealthy(cluster);
}

/** The gateway and every worker still running answer /healthz, and the gateway is ready again. */
export async function assertHealthy(cluster: FaultCluster): Promise<void> {
  assert.equal((await cluster.client.request('GET', '/healthz')).status, 200, 'gateway /healthz');
  const ready = await waitFor(() => cluster.client.request('GET', '/readyz'), (r) => r.status === 200, 'gateway /readyz', 60_000).catch((error: Error) => error);
  assert.ok(!(ready instanceof Error), `gateway /readyz: ${ready instanceof Error ? ready.message : ''}`);
  for (const [i, worker] of cluster.workers.entries()) {
    if (!worker.alive()) continue;
    assert.ok(await worker.healthy(), `worker ${i + 1} /healthz`);
  }
}
