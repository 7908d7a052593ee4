// Curator as separate processes for fault tests: a redis-server and an S3 server of the test's own
// (both restartable on the same port and folder), the gateway and any number of workers, started
// through their entry points with settings given only as environment variables. Everything is
// observed from outside: HTTP, the processes' exit codes, the S3 API and Redis' key names.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testModels, waitFor } from '@curator/testkit';
import { GatewayClient } from './gateway-client.ts';
import { run, type Running } from './processes.ts';
import { freePort } from './ports.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startS3Process, type S3Process } from './s3-process.ts';

const execFileAsync = promisify(execFile);
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Short locks and retries so recovery takes seconds, not minutes. Each is an ordinary setting an
 * operator could choose (packages/config).
 */
export const faultSettings: Record<string, string> = {
  LOG_LEVEL: 'info',
  CURATOR_MODELS: 'test',
  CURATOR_DEVICE: 'cpu',
  WORKER_CONCURRENCY: '4',
  WORKER_HEARTBEAT_MS: '500',
  WORKER_LOCK_MS: '2000',
  WORKER_SHUTDOWN_GRACE_MS: '2000',
  JOB_ATTEMPTS: '3',
  JOB_BACKOFF_MS: '200',
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  S3_RETRY_WINDOW_MS: '60000',
  FETCH_ALLOW_PRIVATE: 'true',
  FETCH_TIMEOUT_MS: '60000',
  RATE_LIMIT_PER_MINUTE: '0',
};

export interface WorkerProcess {
  process: Running;
  metricsPort: number;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  alive(): boolean;
  healthy(): Promise<boolean>;
}

export interface FaultCluster {
  dataDir: string;
  prefix: string;
  vars: Record<string, string>;
  redis: RedisServer;
  s3: S3Process;
  gateway: Running;
  gatewayExited: Promise<number | null>;
  client: GatewayClient;
  workers: WorkerProcess[];
  startWorker(vars?: Record<string, string>): Promise<WorkerProcess>;
  kill(worker: WorkerProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null>;
  /** Ids of the jobs Redis holds under this cluster's prefix (child jobs count as their parent). */
  jobIdsInRedis(): Promise<Set<string>>;
  /** The last log lines of every process, for failure messages. */
  logTail(lines?: number): string;
  close(): Promise<void>;
}

async function answers(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

/** Waits until `url` answers 200 while the process lives; fails with its last log lines if it died. */
async function untilHealthy(url: string, running: Running, what: string): Promise<void> {
  let ended = running.child.exitCode !== null;
  running.child.once('exit', () => (ended = true));
  await waitFor(async () => (ended ? -1 : await answers(url)), (status) => status === 200 || status === -1, what, 180_000);
  if (ended) throw new Error(`${what} exited before it was ready:\n${running.lines.slice(-30).join('\n')}`);
}

/**
 * A copy of the generated test models the test may damage (hard links are not enough: a test that
 * rewrites a file must not change the shared one), in `dir`.
 */
export async function copyOfTestModels(dir: string): Promise<string> {
  const source = await testModels(['sentiment', 'genre', 'summarizer', 'headline', 'image']);
  await cp(source, dir, { recursive: true });
  return dir;
}

export async function startFaultCluster(options: { name: string; vars?: Record<string, string>; modelsDir?: string }): Promise<FaultCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), `curator-faults-${options.name}-`));
  const prefix = `curator-faults-${options.name}`;
  const redis = await startRedisServer({ dir: join(dataDir, 'redis') });
  const s3 = await startS3Process({ dir: join(dataDir, 's3'), bucket: 'curator-faults' });
  const modelsDir = options.modelsDir ?? (await testModels(['sentiment', 'genre', 'summarizer', 'headline', 'image']));
  const port = await freePort();
  const vars: Record<string, string> = {
    ...faultSettings,
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    DATA_DIR: dataDir,
    MODELS_DIR: modelsDir,
    ...options.vars,
  };
  const url = `http://127.0.0.1:${port}`;
  const gateway = run('apps/gateway/src/main.ts', [], vars);
  const gatewayExited = new Promise<number | null>((resolve) => gateway.child.once('exit', resolve));
  await untilHealthy(`${url}/healthz`, gateway, 'the gateway');
  const workers: WorkerProcess[] = [];

  const cluster: FaultCluster = {
    dataDir,
    prefix,
    vars,
    redis,
    s3,
    gateway,
    gatewayExited,
    client: new GatewayClient(url),
    workers,
    async startWorker(extra = {}) {
      const metricsPort = await freePort();
      const started = run('apps/worker/src/main.ts', [], { ...vars, WORKER_METRICS_PORT: String(metricsPort), ...extra });
      let alive = true;
      const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => ((alive = false), resolve(code))));
      const worker: WorkerProcess = {
        process: started,
        metricsPort,
        exited,
        alive: () => alive,
        healthy: async () => (await answers(`http://127.0.0.1:${metricsPort}/healthz`)) === 200,
      };
      workers.push(worker);
      await untilHealthy(`http://127.0.0.1:${metricsPort}/healthz`, started, `worker ${workers.length}`);
      return worker;
    },
    async kill(worker, signal) {
      if (worker.alive()) worker.process.child.kill(signal);
      return worker.exited;
    },
    async jobIdsInRedis() {
      const { stdout } = await execFileAsync('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', `${prefix}:*`], { maxBuffer: 64 * 1024 * 1024 });
      const candidates = new Set<string>();
      for (const key of stdout.split('\n')) for (const id of key.match(uuidPattern) ?? []) candidates.add(id);
      // Only ids the gateway knows as jobs (worker ids and other keys may carry UUIDs too).
      const known = await cluster.client.views([...candidates]);
      return new Set([...known].filter(([, view]) => view !== null).map(([id]) => id));
    },
    logTail(count = 15) {
      const tail = (name: string, lines: string[]) => `--- ${name}\n${lines.slice(-count).join('\n')}`;
      return [tail('gateway', gateway.lines), ...workers.map((w, i) => tail(`worker ${i + 1}`, w.process.lines))].join('\n');
    },
    async close() {
      for (const worker of workers) if (worker.alive()) worker.process.child.kill('SIGKILL');
      gateway.child.kill('SIGKILL');
      await Promise.all([...workers.map((w) => w.exited), gatewayExited]);
      await s3.stop();
      await redis.crash();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return cluster;
}
