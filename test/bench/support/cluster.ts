// Curator as separate processes for benches: a redis-server of the bench's own (AOF everysec, as in
// compose.yaml), the S3 server, the gateway and any number of workers, each through its entry point
// with the shipped defaults (only ports, addresses and LOG_LEVEL=warn set), on the generated test models.
// Built from the system tests' process helpers (test/support); unlike the fault cluster it keeps the
// default locks and heartbeats, and exposes every pid so a bench can pin processes and read their CPU.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testModels, waitFor } from '@curator/testkit';
import { GatewayClient } from '../../support/gateway-client.ts';
import { run, type Running } from '../../support/processes.ts';
import { freePort } from '../../support/ports.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';
import { startS3Process, type S3Process } from '../../support/s3-process.ts';
import { forgetProcess, removeOnExit, trackProcess } from './leftovers.ts';
import { pidListeningOn } from './resources.ts';

export interface BenchProcess {
  name: string;
  running: Running;
  pid: number;
  exited: Promise<number | null>;
}

export interface BenchWorker extends BenchProcess {
  metricsUrl: string;
}

export interface BenchCluster {
  dataDir: string;
  vars: Record<string, string>;
  redis: RedisServer;
  redisPid: number;
  s3: S3Process;
  gateway: BenchProcess;
  gatewayUrl: string;
  client: GatewayClient;
  workers: BenchWorker[];
  startWorker(extra?: Record<string, string>): Promise<BenchWorker>;
  /** SIGTERM (jobs in flight finish first) and wait for the exit. */
  stopWorker(worker: BenchWorker): Promise<void>;
  /** Empties the bench's Redis (every queue, every job): the processes stay connected. */
  flushRedis(): Promise<void>;
  close(): Promise<void>;
}

/** Settings every bench process gets: the shipped defaults apart from addresses and quieter logs. */
const benchSettings: Record<string, string> = {
  LOG_LEVEL: 'warn',
  CURATOR_MODELS: 'test',
  CURATOR_DEVICE: 'cpu',
  RATE_LIMIT_PER_MINUTE: '0',
};

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status === 200;
  } catch {
    return false;
  }
}

function started(name: string, running: Running): BenchProcess {
  trackProcess(running.child.pid);
  running.child.once('exit', () => forgetProcess(running.child.pid));
  const exited = new Promise<number | null>((resolve) => {
    if (running.child.exitCode !== null) resolve(running.child.exitCode);
    else running.child.once('exit', resolve);
  });
  return { name, running, pid: running.child.pid!, exited };
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. */
async function stopGracefully(proc: BenchProcess, graceMs: number): Promise<void> {
  if (proc.running.child.exitCode !== null || proc.running.child.signalCode !== null) return;
  proc.running.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.running.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Waits for `url` to answer 200; fails with the process's last log lines if it exits first. */
async function untilHealthy(url: string, proc: BenchProcess): Promise<void> {
  let ended = false;
  void proc.exited.then(() => (ended = true));
  await waitFor(async () => ended || (await answers(url)), Boolean, `${proc.name} at ${url}`, 180_000);
  if (ended) throw new Error(`${proc.name} exited before it was ready:\n${proc.running.lines.slice(-30).join('\n')}`);
}

export async function startBenchCluster(options: { name: string; gatewayVars?: Record<string, string>; vars?: Record<string, string> }): Promise<BenchCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), `curator-bench-${options.name}-`));
  const dataDirCleanup = removeOnExit(dataDir);
  const redis = await startRedisServer({ dir: join(dataDir, 'redis') });
  const redisPid = pidListeningOn(redis.port);
  if (!redisPid) throw new Error(`no pid listens on the bench's Redis port ${redis.port}`);
  trackProcess(redisPid);
  const s3 = await startS3Process({ dir: join(dataDir, 's3'), bucket: 'curator-bench' });
  const s3Pid = pidListeningOn(Number(new URL(s3.endpoint).port));
  trackProcess(s3Pid);
  const modelsDir = await testModels(['sentiment', 'genre', 'summarizer', 'headline', 'image']);
  const port = await freePort();
  const vars: Record<string, string> = {
    ...benchSettings,
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `curator-bench-${options.name}`,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    DATA_DIR: dataDir,
    MODELS_DIR: modelsDir,
    ...options.vars,
  };
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const gateway = started('gateway', run('apps/gateway/src/main.ts', [], { ...vars, ...options.gatewayVars }));
  await untilHealthy(`${gatewayUrl}/healthz`, gateway);
  const workers: BenchWorker[] = [];

  return {
    dataDir,
    vars,
    redis,
    redisPid,
    s3,
    gateway,
    gatewayUrl,
    client: new GatewayClient(gatewayUrl, { timeoutMs: 60_000 }),
    workers,
    async startWorker(extra = {}) {
      const metricsPort = await freePort();
      const name = `worker ${workers.length + 1}`;
      const worker: BenchWorker = { ...started(name, run('apps/worker/src/main.ts', [], { ...vars, WORKER_METRICS_PORT: String(metricsPort), ...extra })), metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
      workers.push(worker);
      await untilHealthy(`http://127.0.0.1:${metricsPort}/healthz`, worker);
      return worker;
    },
    async stopWorker(worker) {
      worker.running.child.kill('SIGTERM');
      await worker.exited;
      workers.splice(workers.indexOf(worker), 1);
    },
    async flushRedis() {
      execFileSync('redis-cli', ['-p', String(redis.port), 'FLUSHALL'], { stdio: 'ignore' });
    },
    async close() {
      // SIGTERM first, so a process run with --cpu-prof (or the like) writes its profile as it exits.
      await Promise.all([...workers, gateway].map((p) => stopGracefully(p, 10_000)));
      await s3.stop();
      await redis.crash();
      forgetProcess(redisPid);
      forgetProcess(s3Pid);
      await rm(dataDir, { recursive: true, force: true });
      dataDirCleanup.keep();
    },
  };
}

/** A process the bench runs from a script of its own (the minimal servers), reporting its URL on its first line. */
export async function startScript(name: string, script: string, args: string[], vars: Record<string, string>): Promise<BenchProcess & { url: string }> {
  const proc = started(name, run(script, args, vars));
  const line = await proc.running.waitForLog((entry) => typeof entry.listening === 'string');
  return { ...proc, url: String(line.listening) };
}
