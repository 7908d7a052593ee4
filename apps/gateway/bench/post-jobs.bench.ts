// `npm run bench -- apps/gateway/bench/post-jobs.bench.ts`: POST /jobs throughput and latency
// (validation + enqueue into BullMQ on Redis) next to a bare Fastify route on the same machine.
// autocannon runs as a separate process so it does not share the server's event loop.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import { loadEnv } from '@curator/config';
import { createRedis } from '@curator/queue';
import { embeddedS3Credentials, startEmbeddedS3 } from '@curator/embedded-s3';
import { createObjectStorage, storageOptionsFromEnv } from '@curator/storage';
import { createLogger, createMetrics } from '@curator/telemetry';
import { buildGateway, createJobQueues } from '../src/index.ts';

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = 32;
const body = JSON.stringify({ type: 'classify', input: { text: 'The harbour reopened on Monday after a week of repairs, and fishermen returned at dawn.' } });
const autocannonBin = join(createRequire(import.meta.url).resolve('autocannon/package.json'), '..', 'autocannon.js');

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function load(url: string): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [autocannonBin, '--json', '-c', String(connections), '-d', String(durationSeconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', () => {
      const result = JSON.parse(out);
      resolve({ requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors });
    });
  });
}

const prefix = `curator-bench-${process.pid}`;
const dataDir = await mkdtemp(join(tmpdir(), 'curator-bench-'));
const s3 = await startEmbeddedS3({ directory: dataDir, port: 0, host: '127.0.0.1' });
const env = loadEnv({ ...process.env, LOG_LEVEL: 'silent', QUEUE_PREFIX: prefix, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: embeddedS3Credentials.accessKeyId, S3_SECRET_ACCESS_KEY: embeddedS3Credentials.secretAccessKey });
const redis = createRedis(env.REDIS_URL);
const storage = createObjectStorage(storageOptionsFromEnv(env));
await storage.ensureBucket();
const queues = createJobQueues(env, createLogger('bench', 'warn'));
const gateway = await buildGateway({ env, queues, storage, metrics: createMetrics({ process: 'gateway' }) });
const gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: 0 });

const bare = Fastify();
bare.post('/jobs', async (_request, reply) => reply.code(202).send({ status: 'queued' }));
const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

try {
  // Warm both servers (JIT, connections) before measuring.
  await load(`${bareUrl}/jobs`).catch(() => undefined);
  const bareFigures = await load(`${bareUrl}/jobs`);
  const gatewayFigures = await load(`${gatewayUrl}/jobs`);
  const enqueued = (await queues.depths()).filter((d) => d.state === 'waiting').reduce((n, d) => n + d.count, 0);
  const row = (name: string, f: Figures) => `| ${name} | ${f.requestsPerSecond.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.non2xx} | ${f.errors} |`;
  console.log(`\nPOST /jobs, ${connections} connections, ${durationSeconds} s each, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`);
  console.log('| server | requests/s | p50 ms | p99 ms | non-2xx | errors |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(row('bare Fastify route (parse JSON, 202)', bareFigures));
  console.log(row('Curator gateway (zod validation + BullMQ enqueue)', gatewayFigures));
  console.log(`\nGateway throughput: ${((gatewayFigures.requestsPerSecond / bareFigures.requestsPerSecond) * 100).toFixed(0)}% of the bare route; jobs enqueued in Redis: ${enqueued}.`);
} finally {
  await gateway.close();
  await bare.close();
  await queues.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  storage.close();
  await s3.close();
  await rm(dataDir, { recursive: true, force: true });
}
