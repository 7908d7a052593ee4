// `npm run bench -- test/bench/system-throughput.bench.ts`: the whole system on the generated test models
// (gateway, workers, Redis and the S3 server as processes of their own, shipped defaults, e.g.
// WORKER_CONCURRENCY 4): jobs completed per second end to end and queue-wait percentiles as the number of
// jobs in flight rises, with 1 and 2 worker processes, for classify and for curate (image 64x64, 2 steps).
// Clients are closed loops: each submits a job, follows its event stream to the end, submits the next.
// Beside each step: the CPU each process used, the busiest model threads and the mean time of each stage,
// to say where it saturates. The workers' curator_inference_busy_seconds_total adds up each model call's
// time from its dispatch to its answer, queueing in the thread included, so its rate is the mean number
// of calls in flight at that thread: at 1 or more the thread never idles and further calls wait for it.
// Settings: BENCH_SYSTEM_SECONDS (20) measured per step after BENCH_SYSTEM_WARMUP_SECONDS (3),
// BENCH_INFLIGHT (1,4,16,64), BENCH_WORKERS (1,2), BENCH_TYPES (classify,curate).
import { startBenchCluster, type BenchCluster } from './support/cluster.ts';
import { after, runClosedLoop, type JobRecord } from './support/closed-loop.ts';
import { benchJobs, benchImage, type BenchJobType } from './support/jobs.ts';
import { growth, scrape, sumBy, type Sample } from './support/metrics.ts';
import { cpuMeter, pidListeningOn, type CpuReading } from './support/resources.ts';
import { listSetting, machineLine, progress, setting, table } from './support/report.ts';
import { percentile } from '../support/gateway-client.ts';

const seconds = setting('BENCH_SYSTEM_SECONDS', 20);
const warmupSeconds = setting('BENCH_SYSTEM_WARMUP_SECONDS', 3);
const inFlightSteps = listSetting('BENCH_INFLIGHT', [1, 4, 16, 64]);
const workerCounts = listSetting('BENCH_WORKERS', [1, 2]);
const types = (process.env.BENCH_TYPES ?? 'classify,curate').split(',').map((t) => t.trim()) as BenchJobType[];
for (const type of types) if (!(type in benchJobs)) throw new Error(`BENCH_TYPES: unknown job type ${type}`);

interface Step {
  workers: number;
  type: BenchJobType;
  inFlight: number;
  done: JobRecord[];
  failed: JobRecord[];
  refused: number;
  unfollowed: number;
  cpu: CpuReading;
  /** Mean model calls in flight (running or queued) at each model thread, by `worker/model`. */
  modelBusy: Map<string, number>;
  /** Mean ms of each stage over the step (every worker). */
  stageMs: Map<string, number>;
}

async function scrapeWorkers(cluster: BenchCluster): Promise<Sample[][]> {
  return Promise.all(cluster.workers.map((w) => scrape(w.metricsUrl)));
}

async function runStep(cluster: BenchCluster, type: BenchJobType, inFlight: number, tag: string): Promise<Step> {
  const processes: Record<string, number> = { gateway: cluster.gateway.pid, redis: cluster.redisPid, s3: pidListeningOn(Number(new URL(cluster.s3.endpoint).port))! };
  for (const w of cluster.workers) processes[w.name] = w.pid;
  let meter: ReturnType<typeof cpuMeter> | undefined;
  let before: Sample[][] = [];
  let windowStart = 0;
  const window = (async () => {
    await after(warmupSeconds * 1000);
    before = await scrapeWorkers(cluster);
    windowStart = Date.now();
    meter = cpuMeter(processes);
    await after(seconds * 1000);
    const cpu = meter.stop();
    return { cpu, windowEnd: Date.now(), afterSamples: await scrapeWorkers(cluster) };
  })();
  const outcome = await runClosedLoop({ gatewayUrl: cluster.gatewayUrl, concurrency: inFlight, request: (n) => benchJobs[type](n, tag), until: window });
  const { cpu, windowEnd, afterSamples } = await window;
  const inWindow = outcome.records.filter((r) => r.doneAt >= windowStart && r.doneAt <= windowEnd);

  const modelBusy = new Map<string, number>();
  const stageSum = new Map<string, number>();
  const stageCount = new Map<string, number>();
  cluster.workers.forEach((w, i) => {
    for (const [model, busy] of growth(sumBy(before[i]!, 'curator_inference_busy_seconds_total', 'model'), sumBy(afterSamples[i]!, 'curator_inference_busy_seconds_total', 'model'))) {
      modelBusy.set(`${w.name}/${model}`, busy / cpu.seconds);
    }
    for (const [stage, sum] of growth(sumBy(before[i]!, 'curator_stage_duration_seconds_sum', 'stage'), sumBy(afterSamples[i]!, 'curator_stage_duration_seconds_sum', 'stage'))) stageSum.set(stage, (stageSum.get(stage) ?? 0) + sum);
    for (const [stage, count] of growth(sumBy(before[i]!, 'curator_stage_duration_seconds_count', 'stage'), sumBy(afterSamples[i]!, 'curator_stage_duration_seconds_count', 'stage'))) stageCount.set(stage, (stageCount.get(stage) ?? 0) + count);
  });
  const stageMs = new Map([...stageSum].filter(([stage]) => (stageCount.get(stage) ?? 0) > 0).map(([stage, sum]) => [stage, (sum / stageCount.get(stage)!) * 1000]));
  return {
    workers: cluster.workers.length,
    type,
    inFlight,
    done: inWindow.filter((r) => r.status === 'succeeded'),
    failed: outcome.records.filter((r) => r.status !== 'succeeded'),
    refused: [...outcome.refused.values()].reduce((a, b) => a + b, 0),
    unfollowed: outcome.unfollowed.length,
    cpu,
    modelBusy,
    stageMs,
  };
}

progress('starting Redis, S3 and the gateway');
// Workers publish their model threads' busy time at each heartbeat: every second instead of every 5 s,
// so a step's figure is off by at most a second's worth at its edges.
const cluster = await startBenchCluster({ name: 'system', vars: { WORKER_HEARTBEAT_MS: '1000' } });
const steps: Step[] = [];
try {
  for (const workers of workerCounts) {
    while (cluster.workers.length < workers) {
      progress(`starting worker ${cluster.workers.length + 1} (loads every model)`);
      await cluster.startWorker();
    }
    while (cluster.workers.length > workers) await cluster.stopWorker(cluster.workers.at(-1)!);
    for (const type of types) {
      for (const inFlight of inFlightSteps) {
        progress(`${workers} worker(s), ${type}, ${inFlight} in flight: ${warmupSeconds} s warm-up, ${seconds} s measured, then the jobs in flight finish`);
        const step = await runStep(cluster, type, inFlight, `w${workers}-${type}-${inFlight}-${Date.now()}`);
        steps.push(step);
        progress(`  ${(step.done.length / step.cpu.seconds).toFixed(1)} jobs/s, ${step.failed.length} failed`);
      }
    }
  }
} finally {
  await cluster.close();
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : '—');
const rows = steps.map((s) => {
  const waits = s.done.map((r) => (r.startedAt ?? r.createdAt) - r.createdAt);
  const e2e = s.done.map((r) => (r.finishedAt ?? r.doneAt) - r.createdAt);
  const busiest = [...s.modelBusy].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, busy]) => `${name.replace('worker ', 'w')} ${busy.toFixed(2)}`).join(', ');
  const workerShares = Object.entries(s.cpu.perProcess).filter(([name]) => name.startsWith('worker')).map(([, v]) => v);
  const workerCpu = workerShares.map((v) => v.toFixed(2)).join(' + ');
  // CPU each finished job cost, by process: robust where other work shares the cores.
  const msPerJob = (share: number) => (s.done.length > 0 ? ((share * s.cpu.seconds * 1000) / s.done.length).toFixed(1) : '—');
  const perJob = `${msPerJob(s.cpu.perProcess.gateway!)} / ${msPerJob(workerShares.reduce((a, b) => a + b, 0))} / ${msPerJob(s.cpu.perProcess.redis!)}`;
  return [
    s.workers,
    s.type,
    s.inFlight,
    (s.done.length / s.cpu.seconds).toFixed(1),
    `${f1(percentile(e2e, 50))} / ${f1(percentile(e2e, 99))}`,
    `${f1(percentile(waits, 50))} / ${f1(percentile(waits, 90))} / ${f1(percentile(waits, 99))} / ${f1(Math.max(0, ...waits))}`,
    `${s.failed.length} / ${s.refused} / ${s.unfollowed}`,
    s.cpu.perProcess.gateway!.toFixed(2),
    workerCpu,
    s.cpu.perProcess.redis!.toFixed(2),
    s.cpu.perProcess.s3!.toFixed(2),
    s.cpu.others.toFixed(2),
    perJob,
    s.done.length > 0 ? (s.done.reduce((n, r) => n + r.events, 0) / s.done.length).toFixed(1) : '—',
    busiest,
    s.cpu.loadBefore.toFixed(2),
  ];
});
console.log(`\nWhole system on the generated test models, closed-loop clients; ${seconds} s measured per step after ${warmupSeconds} s warm-up; curate's image ${benchImage.width}x${benchImage.height}, ${benchImage.steps} steps; ${machineLine()}`);
console.log('Times in ms from the gateway\'s own timestamps (queue wait: enqueued to first taken by a worker). CPU: cores busy during the step. Model threads: mean calls in flight, running or queued (1 or more: never idle).\n');
console.log(
  table(
    ['workers', 'type', 'in flight', 'jobs/s', 'end to end p50 / p99 ms', 'queue wait p50 / p90 / p99 / max ms', 'failed / refused / unfollowed', 'gateway CPU', 'worker CPU', 'redis CPU', 's3 CPU', 'others CPU', 'CPU ms per job: gateway / workers / redis', 'events per job stream', 'busiest model threads (calls in flight)', 'load avg before'],
    rows,
  ),
);
console.log('\nMean stage time per step (ms, every worker):\n');
console.log(table(['workers', 'type', 'in flight', 'stages'], steps.map((s) => [s.workers, s.type, s.inFlight, [...s.stageMs].map(([stage, ms]) => `${stage} ${f1(ms)}`).join(', ')])));
