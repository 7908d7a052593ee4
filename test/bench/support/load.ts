// HTTP load against a loopback URL: wrk (Debian: apt-get install wrk), whose figures come back as the
// JSON line wrk-report.lua prints, or autocannon (a devDependency) where wrk is not installed. Both keep a
// fixed number of connections busy, one request at a time each (closed loop), and time each request from
// send to full answer without coordinated-omission correction.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetProcess, trackProcess } from './leftovers.ts';
import { cpuSeconds } from './resources.ts';

const reportScript = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

export interface LoadFigures {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers of 400 and over. */
  errorStatus: number;
  /** Connect, read and write errors and timeouts. */
  socketErrors: number;
  /** Answers by HTTP status (autocannon only). */
  statusCounts?: Record<string, number>;
  /** CPU seconds the load generator itself used (sampled from /proc until it ended: the last 0.2 s may be missing). */
  generatorCpuSeconds: number;
}

export type LoadGenerator = 'wrk' | 'autocannon';

export function loadGenerator(): LoadGenerator {
  return spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk';
}

export interface LoadRun {
  url: string;
  method: 'GET' | 'POST';
  /** A file holding the JSON body (POST). */
  bodyFile?: string;
  connections: number;
  seconds: number;
  threads?: number;
  /** CPUs to run the load generator on (a taskset list), or undefined for any. */
  cpus?: string;
  /** autocannon only: requests per second over all connections (open rate) instead of as fast as answered. */
  rate?: number;
  /** autocannon only: `[<id>]` in the body becomes a fresh random id in every request. */
  uniqueBodies?: boolean;
}

/** Runs one load with `generator`; the target must be a loopback address. */
export function runLoad(generator: LoadGenerator, options: LoadRun): Promise<LoadFigures> {
  const host = new URL(options.url).hostname;
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) throw new Error(`load goes to loopback only, not ${host}`);
  if (generator === 'wrk' && (options.rate !== undefined || options.uniqueBodies)) throw new Error('wrk sends as fast as answered and the same body: use autocannon for a rate or unique bodies');
  return generator === 'wrk' ? runWrk(options) : runAutocannon(options);
}

/** Runs `command` (under taskset when `cpus` is given), sampling its CPU time, and hands back its stdout. */
function runSampled(command: string, args: string[], cpus: string | undefined): Promise<{ code: number | null; out: string; err: string; cpu: number }> {
  const [file, argv] = cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackProcess(child.pid);
    let out = '';
    let err = '';
    let cpu = 0;
    const sampler = setInterval(() => (cpu = cpuSeconds(child.pid!) ?? cpu), 200);
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      forgetProcess(child.pid);
      clearInterval(sampler);
      resolve({ code, out, err, cpu });
    });
  });
}

async function runWrk(options: LoadRun): Promise<LoadFigures> {
  const wrkArgs = ['-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '-s', reportScript, options.url, '--', options.method, ...(options.bodyFile ? [options.bodyFile] : [])];
  const { code, out, err, cpu } = await runSampled('wrk', wrkArgs, options.cpus);
  const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code}:\n${out}\n${err}`);
  const r = JSON.parse(line) as Record<string, number>;
  return {
    requests: r.requests!,
    requestsPerSecond: r.requests! / (r.durationUs! / 1e6),
    p50Ms: r.p50Us! / 1000,
    p90Ms: r.p90Us! / 1000,
    p99Ms: r.p99Us! / 1000,
    maxMs: r.maxUs! / 1000,
    errorStatus: r.status!,
    socketErrors: r.connectErrors! + r.readErrors! + r.writeErrors! + r.timeouts!,
    generatorCpuSeconds: cpu,
  };
}

const autocannonBin = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js');

async function runAutocannon(options: LoadRun): Promise<LoadFigures> {
  const body = options.bodyFile ? ['-H', 'content-type=application/json', '-b', readFileSync(options.bodyFile, 'utf8')] : [];
  const args = [autocannonBin, '--json', ...(options.threads && options.threads > 1 ? ['-w', String(options.threads)] : []), '-c', String(options.connections), '-d', String(options.seconds), '-m', options.method, ...(options.rate ? ['-R', String(options.rate)] : []), ...(options.uniqueBodies ? ['-I'] : []), ...body, options.url];
  const { code, out, err, cpu } = await runSampled(process.execPath, args, options.cpus);
  if (code !== 0) throw new Error(`autocannon exited with ${code}:\n${err}`);
  const r = JSON.parse(out);
  return {
    requests: r.requests.total,
    requestsPerSecond: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    errorStatus: r.non2xx,
    // autocannon counts a timeout as an error too.
    socketErrors: r.errors,
    statusCounts: Object.fromEntries(Object.entries(r.statusCodeStats as Record<string, { count: number }>).map(([status, { count }]) => [status, count])),
    generatorCpuSeconds: cpu,
  };
}
