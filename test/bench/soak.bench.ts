// `npm run bench -- test/bench/soak.bench.ts`: steady load through the gateway and workers on the generated
// test models for BENCH_SOAK_MINUTES (10), then: did any job fail, and does the gateway's memory level off
// (a plateau) or keep growing (a leak)?
// Load, all of it at once for the whole soak:
//   - BENCH_SOAK_INFLIGHT (8) closed-loop clients cycling through every job type (classify, summarize,
//     headline, curate, text-to-image), each following its job's event stream to the end;
//   - BENCH_SOAK_SUBMIT_RATE (20) POST /jobs per second of classify jobs, each with its own text (autocannon,
//     16 connections: the rate is a ceiling that a slow gateway keeps it under);
//   - BENCH_SOAK_READ_RATE (200) GET /jobs/:id per second of a finished curate job (two presigned URLs each;
//     64 connections).
// Every BENCH_SOAK_SAMPLE_SECONDS (60): RSS (/proc) and V8 heap used/total and external memory (the
// process's own /metrics) of the gateway and each worker, queue depth and jobs finished so far.
// BENCH_SOAK_SNAPSHOTS (3) heap snapshots of the gateway, evenly from the first sample to the end
// (`--heapsnapshot-signal`; each one pauses the gateway for a few seconds): live heap after a full GC,
// objects by constructor, and the retaining paths of the class that grew most (0: none). They are deleted
// afterwards unless BENCH_SOAK_KEEP_SNAPSHOTS=1 (then the bench prints where they are).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@curator/testkit';
import { startBenchCluster, type BenchCluster } from './support/cluster.ts';
import { removeOnExit } from './support/leftovers.ts';
import { runClosedLoop, type JobRecord } from './support/closed-loop.ts';
import { benchJobs, type BenchJobType } from './support/jobs.ts';
import { growingClasses, readHeapSnapshot, retainingPaths, type HeapSnapshot } from './support/heap-snapshot.ts';
import { runLoad, type LoadFigures } from './support/load.ts';
import { scrape, sumBy, type Sample } from './support/metrics.ts';
import { cpuSeconds, loadAverage, memoryOf, mib } from './support/resources.ts';
import { machineLine, progress, setting, table } from './support/report.ts';

const minutes = setting('BENCH_SOAK_MINUTES', 10);
const inFlight = setting('BENCH_SOAK_INFLIGHT', 8);
const submitRate = setting('BENCH_SOAK_SUBMIT_RATE', 20);
const readRate = setting('BENCH_SOAK_READ_RATE', 200);
const sampleSeconds = setting('BENCH_SOAK_SAMPLE_SECONDS', 60);
const snapshotCount = setting('BENCH_SOAK_SNAPSHOTS', 3);
const workerCount = setting('BENCH_SOAK_WORKERS', 2);
const soakMs = minutes * 60_000;
const mix: BenchJobType[] = ['classify', 'summarize', 'headline', 'curate', 'text-to-image'];

interface ProcessMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface MemorySample {
  atSeconds: number;
  load: number;
  gateway: ProcessMemory;
  /** Cores the gateway used since the previous sample. */
  gatewayCpu: number;
  workers: ProcessMemory[];
  waiting: number;
  active: number;
  failedInQueue: number;
  finished: number;
}

function processMemory(pid: number, samples: Sample[]): ProcessMemory {
  const one = (name: string) => sumBy(samples, name).get('') ?? Number.NaN;
  return { rss: memoryOf(pid)?.rss ?? Number.NaN, heapUsed: one('nodejs_heap_size_used_bytes'), heapTotal: one('nodejs_heap_size_total_bytes'), external: one('nodejs_external_memory_bytes') };
}

async function queueDepth(cluster: BenchCluster): Promise<Map<string, number>> {
  return sumBy(await scrape(`${cluster.gatewayUrl}/metrics`), 'curator_queue_depth', 'state');
}

/** Asks the gateway for a heap snapshot and waits until it is written (the gateway answers again). */
async function heapSnapshot(cluster: BenchCluster, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(cluster.gateway.pid, 'SIGUSR2');
  const file = await waitFor(async () => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)), Boolean, 'the heap snapshot file', 300_000);
  // V8 writes it on the gateway's main thread: once /healthz answers, it is complete.
  await waitFor(async () => (await fetch(`${cluster.gatewayUrl}/healthz`, { signal: AbortSignal.timeout(60_000) }).catch(() => null))?.status === 200, Boolean, 'the gateway after its heap snapshot', 300_000);
  return join(dir, file!);
}

progress(`soak: ${minutes} min, ${workerCount} worker(s), ${inFlight} closed-loop clients, ${submitRate} submits/s, ${readRate} reads/s`);
// Outside the cluster's folder, which is removed with it: the snapshots are read after the soak.
const heapDir = join(tmpdir(), `curator-soak-heap-${process.pid}`);
mkdirSync(heapDir, { recursive: true });
const heapDirCleanup = removeOnExit(heapDir);
const cluster = await startBenchCluster({ name: 'soak', gatewayVars: { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${heapDir}` } });
const samples: MemorySample[] = [];
const snapshotFiles: string[] = [];
let records: JobRecord[] = [];
let refused = new Map<string, number>();
let unfollowed: Array<{ id: string; reason: string }> = [];
let background: LoadFigures[] = [];
let failedCounters = new Map<string, number>();
let drained = false;
try {
  for (let i = 0; i < workerCount; i++) {
    progress(`starting worker ${i + 1}`);
    await cluster.startWorker();
  }
  const readTarget = (await cluster.client.submit(benchJobs.curate(0, 'soak-read-target'))).id!;
  const settled = await cluster.client.settle([readTarget]);
  if (settled.views.get(readTarget)?.status !== 'succeeded') throw new Error(`the curate job to read did not succeed: ${JSON.stringify(settled.views.get(readTarget))}`);
  const bodyFile = join(cluster.dataDir, 'submit.json');
  writeFileSync(bodyFile, JSON.stringify({ type: 'classify', input: { text: 'Soak [<id>]: the harbour reopened on Monday after a week of repairs, and fishermen returned at dawn.' } }));

  const started = Date.now();
  let lastCpu = cpuSeconds(cluster.gateway.pid) ?? 0;
  let lastAt = performance.now();
  const sample = async () => {
    let gatewayMetrics: Sample[];
    let workerMetrics: Sample[][];
    try {
      [gatewayMetrics, workerMetrics] = await Promise.all([scrape(`${cluster.gatewayUrl}/metrics`), Promise.all(cluster.workers.map((w) => scrape(w.metricsUrl)))]);
    } catch (error) {
      // An overloaded process may not answer in time: the next sample will.
      progress(`  no sample this time: ${(error as Error).message}`);
      return;
    }
    const depth = sumBy(gatewayMetrics, 'curator_queue_depth', 'state');
    const cpuNow = cpuSeconds(cluster.gateway.pid) ?? lastCpu;
    const now = performance.now();
    const s: MemorySample = {
      atSeconds: Math.round((Date.now() - started) / 1000),
      load: loadAverage(),
      gateway: processMemory(cluster.gateway.pid, gatewayMetrics),
      gatewayCpu: (cpuNow - lastCpu) / ((now - lastAt) / 1000),
      workers: cluster.workers.map((w, i) => processMemory(w.pid, workerMetrics[i]!)),
      waiting: (depth.get('waiting') ?? 0) + (depth.get('prioritized') ?? 0),
      active: depth.get('active') ?? 0,
      failedInQueue: depth.get('failed') ?? 0,
      finished: workerMetrics.reduce((n, m) => n + [...sumBy(m, 'curator_jobs_completed_total').values()].reduce((a, b) => a + b, 0), 0),
    };
    lastCpu = cpuNow;
    lastAt = now;
    samples.push(s);
    progress(`  t=${s.atSeconds} s: gateway RSS ${mib(s.gateway.rss)}, heap ${mib(s.gateway.heapUsed)}/${mib(s.gateway.heapTotal)}; workers RSS ${s.workers.map((w) => mib(w.rss)).join(', ')}; waiting ${s.waiting}, failed ${s.failedInQueue}, jobs finished ${s.finished}`);
  };
  await sample();

  // Snapshot times: evenly from the first sample after the start (warm by then) to the end.
  const firstSnapshotMs = Math.min(soakMs, sampleSeconds * 1000);
  const snapshotAt = Array.from({ length: Math.max(0, snapshotCount) }, (_, i) => (snapshotCount === 1 ? soakMs : firstSnapshotMs + (i * (soakMs - firstSnapshotMs)) / (snapshotCount - 1)));
  let soakOver!: () => void;
  const over = new Promise<void>((resolve) => (soakOver = resolve));
  const monitor = (async () => {
    let nextSample = sampleSeconds * 1000;
    while (Date.now() - started < soakMs) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const elapsed = Date.now() - started;
      if (elapsed >= nextSample || elapsed >= soakMs) {
        await sample();
        nextSample += sampleSeconds * 1000;
      }
      while (snapshotAt.length > 0 && elapsed >= snapshotAt[0]!) {
        snapshotAt.shift();
        progress('  heap snapshot of the gateway');
        snapshotFiles.push(await heapSnapshot(cluster, heapDir));
      }
    }
    soakOver();
  })();
  const loads = Promise.all([
    submitRate > 0 ? runLoad('autocannon', { url: `${cluster.gatewayUrl}/jobs`, method: 'POST', bodyFile, connections: 16, seconds: minutes * 60, rate: submitRate, uniqueBodies: true }) : null,
    readRate > 0 ? runLoad('autocannon', { url: `${cluster.gatewayUrl}/jobs/${readTarget}`, method: 'GET', connections: 64, seconds: minutes * 60, rate: readRate }) : null,
  ]);
  const outcome = await runClosedLoop({ gatewayUrl: cluster.gatewayUrl, concurrency: inFlight, request: (n) => benchJobs[mix[n % mix.length]!](n, 'soak'), until: over });
  await monitor;
  background = (await loads).filter((f): f is LoadFigures => f !== null);
  records = outcome.records;
  refused = outcome.refused;
  unfollowed = outcome.unfollowed;
  if (unfollowed.length > 0) {
    // Jobs whose event stream broke off: read their final state instead.
    const { views } = await cluster.client.settle(unfollowed.map((u) => u.id), 600_000);
    for (const { id } of unfollowed) {
      const view = views.get(id);
      records.push({ id, type: view?.type ?? 'unknown', status: view?.status ?? 'lost', errorCode: view?.error?.code ?? null, submittedAt: 0, doneAt: 0, createdAt: 0, startedAt: null, finishedAt: null, events: 0 });
    }
  }

  progress('soak over: waiting for the queue to drain');
  drained = await waitFor(async () => queueDepth(cluster), (d) => (d.get('waiting') ?? 0) + (d.get('active') ?? 0) + (d.get('delayed') ?? 0) + (d.get('waiting-children') ?? 0) === 0, 'the queue to drain', 600_000).then(
    () => true,
    () => false,
  );
  await sample();
  const workerMetrics = await Promise.all(cluster.workers.map((w) => scrape(w.metricsUrl)));
  failedCounters = new Map();
  for (const m of workerMetrics) for (const s of m.filter((x) => x.name === 'curator_jobs_failed_total')) {
    const key = `${s.labels.type}/${s.labels.code}`;
    failedCounters.set(key, (failedCounters.get(key) ?? 0) + s.value);
  }
} finally {
  await cluster.close();
}

// --- report
const memRow = (s: MemorySample) => [
  s.atSeconds,
  s.load.toFixed(2),
  mib(s.gateway.rss),
  `${mib(s.gateway.heapUsed)} / ${mib(s.gateway.heapTotal)}`,
  mib(s.gateway.external),
  mib(s.gateway.rss - s.gateway.heapTotal),
  s.gatewayCpu.toFixed(2),
  s.workers.map((w) => mib(w.rss)).join(', '),
  s.workers.map((w) => `${mib(w.heapUsed)} / ${mib(w.heapTotal)}`).join(', '),
  s.waiting,
  s.active,
  s.failedInQueue,
  s.finished,
];
const byStatus = new Map<string, number>();
for (const r of records) byStatus.set(`${r.type} ${r.status}${r.errorCode ? ` (${r.errorCode})` : ''}`, (byStatus.get(`${r.type} ${r.status}${r.errorCode ? ` (${r.errorCode})` : ''}`) ?? 0) + 1);
console.log(`\nSoak: ${minutes} min, ${workerCount} worker(s), ${inFlight} closed-loop clients (every job type), ${submitRate} classify submits/s, ${readRate} reads/s of a finished curate job; ${machineLine()}\n`);
console.log(table(['t s', 'load avg', 'gateway RSS', 'gateway heap used / total', 'gateway external', 'gateway RSS − heap total', 'gateway CPU (cores)', 'worker RSS', 'worker heap used / total', 'waiting', 'active', 'failed in queue', 'jobs finished'], samples.map(memRow)));
const reasons = new Map<string, number>();
for (const u of unfollowed) reasons.set(u.reason, (reasons.get(u.reason) ?? 0) + 1);
console.log(`\nClosed-loop jobs: ${[...byStatus].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}; refused submissions: ${[...refused].map(([k, v]) => `${k} x${v}`).join(', ') || 'none'}; event streams that broke off (job read afterwards, counted above): ${[...reasons].map(([k, v]) => `${k} x${v}`).join(', ') || 'none'}.`);
for (const [i, f] of background.entries()) {
  const statuses = Object.entries(f.statusCounts ?? {}).map(([status, count]) => `${status} x${count}`).join(', ');
  console.log(`Background ${i === 0 && submitRate > 0 ? 'submits' : 'reads'}: ${f.requests} requests, ${f.requestsPerSecond.toFixed(0)}/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms; answers ${statuses || 'none'}; errors (timeouts at 10 s included) ${f.socketErrors}.`);
}
console.log(`Workers' failed-job counters: ${[...failedCounters].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; queue drained after the soak: ${drained ? 'yes' : 'NO'}.`);

if (snapshotFiles.length > 0) {
  progress(`reading ${snapshotFiles.length} heap snapshots`);
  const first = readHeapSnapshot(snapshotFiles[0]!);
  const snapshots: HeapSnapshot[] = [first, ...snapshotFiles.slice(1).map((file) => readHeapSnapshot(file, first.maxId))];
  console.log(`\nGateway heap snapshots (after a full GC each): ${snapshots.map((s, i) => `#${i + 1} ${mib(s.liveBytes)} live in ${s.nodeCount} objects (file ${mib(s.fileBytes)})`).join('; ')}.\n`);
  const growing = growingClasses(snapshots);
  const last = snapshots.at(-1)!;
  console.log(
    table(
      ['class (constructor or kind)', ...snapshots.map((_, i) => `#${i + 1} count`), ...snapshots.map((_, i) => `#${i + 1} bytes`), 'grew at every step', `in #${snapshots.length}, allocated after #1`],
      growing.map((g) => [g.className.replace(/\|/g, '\\|'), ...g.counts, ...g.bytes.map((b) => `${(b / 1024).toFixed(0)} KiB`), g.steadyGrowth ? 'yes' : 'no', last.newerByClass.get(g.className)?.count ?? 0]),
    ),
  );
  // V8's own code objects, shapes and internals grow while code warms up: not the program's data. A class
  // is a suspect when it grew at every step, by at least 1 MiB or 1% of the live heap, with objects
  // allocated after snapshot #1.
  const enough = Math.max(1048576, first.liveBytes / 100);
  const suspect = growing.find(
    (g) => g.steadyGrowth && !/^\((code|hidden|object shape)\)/.test(g.className) && g.bytes.at(-1)! - g.bytes[0]! >= enough && (last.newerByClass.get(g.className)?.count ?? 0) > 0,
  );
  if (suspect && snapshots.length > 1) {
    console.log(`\nShortest retaining paths of "${suspect.className}" objects allocated after snapshot #1 and alive in #${snapshots.length}:`);
    for (const path of retainingPaths(last, suspect.className, first.maxId)) console.log(`- ${path}`);
  } else {
    console.log(`\nNo class of the program's own objects (V8 code, shapes and internals aside) grew at every step by ${mib(enough)} or more.`);
  }
}
if (process.env.BENCH_SOAK_KEEP_SNAPSHOTS === '1') {
  heapDirCleanup.keep();
  console.error(`heap snapshots kept in ${heapDir}`);
}
