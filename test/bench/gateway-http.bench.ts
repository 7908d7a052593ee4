// `npm run bench -- test/bench/gateway-http.bench.ts`: the gateway's hot routes under HTTP load, beside
// reference servers in the same run, each a process of its own against a redis-server of the bench's own:
//   POST /jobs       bare Fastify route | minimal Fastify + BullMQ's Queue.add with Curator's job options (the
//                    issue's reference, `@curator/queue/bench-peer`) | minimal Fastify + JobQueues.submit
//                    | Curator gateway
//   GET  /jobs/:id   minimal Fastify + JobQueues.get | gateway, finished classify job (no presigning)
//                    | gateway, finished curate job (image and card: two presigned URLs per read)
// at 32 and 256 connections; "% of reference" compares a POST case with the Queue.add route and a GET case
// with the minimal JobQueues.get route, with wrk (autocannon where wrk is missing; the output says which).
// Servers run on CPU 0, Redis and the load generator on CPU 1 (when the machine has 2 cores or more and
// BENCH_PIN is not 0); the load average before each case and the CPU each process used during it are
// printed beside the figures, and so is the CPU the rest of the machine used (other work on shared cores),
// the server's RSS after each case, and the Redis commands per request (`INFO commandstats`).
// Settings: BENCH_SECONDS (10) per case, BENCH_WARMUP_SECONDS (3) per server, BENCH_CONNECTIONS (32,256),
// BENCH_ONLY (cases whose "route server" contains it, e.g. "POST /jobs Curator"), BENCH_GATEWAY_NODE_OPTIONS
// (the gateway's NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": written when the bench ends).
// BENCH_PIN=0: no pinning (better while other work takes CPU 0).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBenchCluster, startScript, type BenchProcess } from './support/cluster.ts';
import { benchJobs } from './support/jobs.ts';
import { loadGenerator, runLoad, type LoadFigures, type LoadRun } from './support/load.ts';
import { cores, cpuMeter, memoryOf, mib, pin, type CpuReading } from './support/resources.ts';
import { listSetting, machineLine, progress, setting, table } from './support/report.ts';

const seconds = setting('BENCH_SECONDS', 10);
const warmupSeconds = setting('BENCH_WARMUP_SECONDS', 3);
const connectionCounts = listSetting('BENCH_CONNECTIONS', [32, 256]);
const pinned = cores >= 2 && process.env.BENCH_PIN !== '0';
const serverCpus = pinned ? '0' : undefined;
const sideCpus = pinned ? '1' : undefined;
const generator = loadGenerator();

const classifyBody = { type: 'classify', input: { text: 'The harbour reopened on Monday after a week of repairs, and fishermen returned at dawn.' } };

interface Case {
  name: string;
  route: 'POST /jobs' | 'GET /jobs/:id';
  server: BenchProcess & { url: string };
  path: string;
  /** The reference this case is compared with (a case name). */
  baseline?: string;
  /** Empties Redis first so every POST case starts from the same state. */
  flushFirst?: boolean;
  /** The queue prefix its jobs go under (default: the gateway's). */
  prefix?: string;
}

interface Result {
  case: Case;
  connections: number;
  figures: LoadFigures;
  cpu: CpuReading;
  /** Redis commands run during the case, by name (scripts count as evalsha). */
  commands: Map<string, number>;
  /** The server's resident memory after the case. */
  rssAfter: number;
  enqueued?: number;
}

progress(`starting Redis, S3 and the gateway (load generator: ${generator}; ${pinned ? 'servers on CPU 0, Redis and the load generator on CPU 1' : 'not pinned'})`);
const gatewayNodeOptions = process.env.BENCH_GATEWAY_NODE_OPTIONS;
const only = process.env.BENCH_ONLY?.toLowerCase();
const cluster = await startBenchCluster({ name: 'gateway-http', ...(gatewayNodeOptions ? { gatewayVars: { NODE_OPTIONS: gatewayNodeOptions } } : {}) });
const bodyFile = join(cluster.dataDir, 'classify.json');
writeFileSync(bodyFile, JSON.stringify(classifyBody));
const serverVars = { ...cluster.vars, PORT: '0' };
// The POST references enqueue under a prefix of their own: under the gateway's, its job event readers
// (idle in those cases, but pinned to the same core) would read every job they add and slow them down.
const referencePrefix = `${cluster.vars.QUEUE_PREFIX}-reference`;
const referenceVars = { ...serverVars, QUEUE_PREFIX: referencePrefix };
const bare = await startScript('bare Fastify', 'test/bench/servers/minimal.ts', ['bare'], serverVars);
const queueAdd = await startScript('minimal Queue.add', 'test/bench/servers/minimal.ts', ['queue-add'], referenceVars);
const minimalPost = await startScript('minimal JobQueues (POST)', 'test/bench/servers/minimal.ts', ['queue'], referenceVars);
// Reads the gateway's finished jobs, so under the gateway's prefix.
const minimal = await startScript('minimal JobQueues (GET)', 'test/bench/servers/minimal.ts', ['queue'], serverVars);
const gateway = { ...cluster.gateway, url: cluster.gatewayUrl };
const references = [bare, queueAdd, minimalPost, minimal];
const pinning: string[] = [];
if (pinned) {
  for (const server of [gateway, ...references]) if (!pin(server.pid, serverCpus!)) pinning.push(`${server.name} not pinned`);
  if (!pin(cluster.redisPid, sideCpus!)) pinning.push('redis not pinned');
}

const results: Result[] = [];
try {
  // Finished jobs to read back: one worker runs them, then leaves (it takes no CPU while measuring).
  progress('running a classify and a curate job to completion for the GET cases');
  const worker = await cluster.startWorker();
  const finished: Record<'classify' | 'curate', string> = {
    classify: (await cluster.client.submit(classifyBody)).id!,
    curate: (await cluster.client.submit(benchJobs.curate(1, 'gateway-bench'))).id!,
  };
  const { views } = await cluster.client.settle(Object.values(finished));
  for (const [type, id] of Object.entries(finished)) {
    if (views.get(id)?.status !== 'succeeded') throw new Error(`the ${type} job ${id} did not succeed: ${JSON.stringify(views.get(id))}`);
  }
  const curateRead = (await cluster.client.request('GET', `/jobs/${finished.curate}`)).body;
  if (!String(curateRead?.result?.image?.url).includes('X-Amz-Signature')) throw new Error(`the curate job's read carries no presigned URL: ${JSON.stringify(curateRead?.result?.image)}`);
  await cluster.stopWorker(worker);

  const getCases: Case[] = [
    { name: 'minimal: JobQueues.get, JSON', route: 'GET /jobs/:id', server: minimal, path: `/jobs/${finished.classify}` },
    { name: 'Curator: finished classify (no presigning)', route: 'GET /jobs/:id', server: gateway, path: `/jobs/${finished.classify}`, baseline: 'minimal: JobQueues.get, JSON' },
    { name: 'Curator: finished curate (2 presigned URLs)', route: 'GET /jobs/:id', server: gateway, path: `/jobs/${finished.curate}`, baseline: 'minimal: JobQueues.get, JSON' },
  ];
  const queueAddName = "minimal: Queue.add, no validation (the issue's reference)";
  const postCases: Case[] = [
    { name: 'bare Fastify (parse JSON, 202)', route: 'POST /jobs', server: bare, path: '/jobs', flushFirst: true },
    { name: queueAddName, route: 'POST /jobs', server: queueAdd, path: '/jobs', flushFirst: true, prefix: referencePrefix },
    { name: 'minimal: JobQueues.submit, no validation', route: 'POST /jobs', server: minimalPost, path: '/jobs', baseline: queueAddName, flushFirst: true, prefix: referencePrefix },
    { name: 'Curator gateway', route: 'POST /jobs', server: gateway, path: '/jobs', baseline: queueAddName, flushFirst: true },
  ];

  const warmed = new Set<string>();
  const measure = async (c: Case, connections: number) => {
    const load: LoadRun = { url: `${c.server.url}${c.path}`, method: c.route === 'POST /jobs' ? 'POST' : 'GET', ...(c.route === 'POST /jobs' ? { bodyFile } : {}), connections, seconds, ...(sideCpus ? { cpus: sideCpus } : {}) };
    const warmKey = `${c.name} ${c.route}`;
    if (!warmed.has(warmKey) && warmupSeconds > 0) {
      await runLoad(generator, { ...load, seconds: warmupSeconds });
      warmed.add(warmKey);
    }
    if (c.flushFirst) await cluster.flushRedis();
    progress(`${c.route} ${c.name}, ${connections} connections, ${seconds} s`);
    const commandsBefore = redisCommands(cluster.redis.port);
    const meter = cpuMeter({ server: c.server.pid, redis: cluster.redisPid });
    const figures = await runLoad(generator, load);
    const cpu = meter.stop();
    const commands = commandGrowth(commandsBefore, redisCommands(cluster.redis.port));
    // The load generator is one of "others" to the meter: count it apart.
    cpu.others = Math.max(0, cpu.others - figures.generatorCpuSeconds / cpu.seconds);
    const enqueued = c.route === 'POST /jobs' && c.server !== bare ? waitingJobs(cluster.redis.port, c.prefix ?? cluster.vars.QUEUE_PREFIX!) : undefined;
    results.push({ case: c, connections, figures, cpu, commands, rssAfter: memoryOf(c.server.pid)?.rss ?? Number.NaN, ...(enqueued === undefined ? {} : { enqueued }) });
  };
  const chosen = (c: Case) => !only || `${c.route} ${c.name}`.toLowerCase().includes(only);
  for (const connections of connectionCounts) for (const c of getCases.filter(chosen)) await measure(c, connections);
  for (const connections of connectionCounts) for (const c of postCases.filter(chosen)) await measure(c, connections);
} finally {
  for (const server of references) {
    server.running.child.kill('SIGTERM');
    await server.exited;
  }
  await cluster.close();
}

/** Calls per command so far (`INFO commandstats`). */
function redisCommands(port: number): Map<string, number> {
  const info = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map(([, name, calls]) => [name!, Number(calls)]));
}

function commandGrowth(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0)]).filter(([, calls]) => (calls as number) > 0) as Array<[string, number]>);
}

function waitingJobs(port: number, prefix: string): number {
  return Number(execFileSync('redis-cli', ['-p', String(port), 'LLEN', `${prefix}:text:wait`], { encoding: 'utf8' }).trim());
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
/**
 * What one request cost Redis: commands in all (those inside Lua scripts included, as Redis counts them),
 * of which script calls (BullMQ's add and state scripts), and the most frequent.
 */
function redisPerRequest(r: Result): string {
  const per = (calls: number) => (calls / r.figures.requests).toFixed(2);
  const total = [...r.commands.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return '0';
  const scripts = (r.commands.get('evalsha') ?? 0) + (r.commands.get('eval') ?? 0);
  const top = [...r.commands].filter(([name]) => name !== 'evalsha' && name !== 'eval').sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, calls]) => `${name} ${per(calls)}`);
  return `${per(total)}: ${per(scripts)} scripts; ${top.join(', ')}`;
}

const rowOf = (r: Result) => {
  const base = r.case.baseline ? results.find((b) => b.case.name === r.case.baseline && b.connections === r.connections) : undefined;
  const share = base ? `${((r.figures.requestsPerSecond / base.figures.requestsPerSecond) * 100).toFixed(0)}%` : '—';
  const cpuPerRequestUs = (r.cpu.perProcess.server! * r.cpu.seconds * 1e6) / r.figures.requests;
  return [
    r.case.route,
    r.case.name,
    r.connections,
    r.figures.requestsPerSecond.toFixed(0),
    ms(r.figures.p50Ms),
    ms(r.figures.p99Ms),
    ms(r.figures.maxMs),
    share,
    `${r.figures.errorStatus} / ${r.figures.socketErrors}`,
    r.cpu.perProcess.server!.toFixed(2),
    cpuPerRequestUs.toFixed(0),
    r.cpu.perProcess.redis!.toFixed(2),
    (r.figures.generatorCpuSeconds / r.cpu.seconds).toFixed(2),
    r.cpu.others.toFixed(2),
    r.cpu.loadBefore.toFixed(2),
    mib(r.rssAfter),
    redisPerRequest(r),
  ];
};

console.log(`\nGateway under HTTP load: ${generator}, 1 thread, ${seconds} s per case after ${warmupSeconds} s of warm-up per server; ${machineLine()}`);
console.log(pinned ? `Servers pinned to CPU 0, Redis and ${generator} to CPU 1${pinning.length ? ` (${pinning.join(', ')})` : ''}.` : 'Processes not pinned.');
console.log('CPU columns: cores busy during the case (1.00 = one core all the time); "others" = the rest of the machine (not the bench).\n');
console.log(
  table(
    ['route', 'server', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'max ms', '% of reference', '≥400 / socket errors', 'server CPU', 'server CPU µs/req', 'redis CPU', `${generator} CPU`, 'others CPU', 'load avg before', 'server RSS after', 'Redis calls per request'],
    results.map(rowOf),
  ),
);
for (const r of results.filter((r) => r.enqueued !== undefined)) {
  console.log(`\n${r.case.name}, ${r.connections} connections: ${r.enqueued} jobs waiting in Redis after the case; ${generator} counted ${r.figures.requests} answers.`);
}
