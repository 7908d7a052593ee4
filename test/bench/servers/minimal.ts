// The gateway bench's reference servers, each a process of its own like the gateway:
//   node test/bench/servers/minimal.ts bare   POST /jobs parses the JSON body and answers 202 (Fastify alone)
//   node test/bench/servers/minimal.ts queue  POST /jobs enqueues the body as it came (no validation, no
//        plugins) with JobQueues.submit and answers 202 with the id; GET /jobs/:id answers JobQueues.get
//        as JSON (no presigning, no response schema)
// Settings (REDIS_URL, QUEUE_PREFIX, ...) come from the environment like the gateway's. Prints one JSON
// line `{"listening": url}` when it serves.
//
// The "minimal Fastify + Queue.add route" would call BullMQ's Queue.add once per request with
// Curator's job options. @curator/queue exports neither a Queue nor `jobOptions` (and nothing outside it
// may import bullmq), so the nearest route Curator's exports allow is JobQueues.submit: the same job
// options, plus the group commit (one addBulk per event-loop turn) that the gateway uses too.
import Fastify from 'fastify';
import { loadEnv } from '@curator/config';
import type { JobRequest } from '@curator/contracts';
import { JobQueues, queueSettingsFromEnv } from '@curator/queue';
import { createLogger } from '@curator/telemetry';

const kind = process.argv[2];
if (kind !== 'bare' && kind !== 'queue') throw new Error('usage: minimal.ts bare|queue');

const env = loadEnv();
const app = Fastify();
let queues: JobQueues | null = null;

if (kind === 'bare') {
  app.post('/jobs', async (_request, reply) => reply.code(202).send({ status: 'queued' }));
} else {
  const jobQueues = new JobQueues({ settings: queueSettingsFromEnv(env), commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS, logger: createLogger('bench-minimal', 'warn') });
  queues = jobQueues;
  await jobQueues.ready();
  app.post('/jobs', async (request, reply) => {
    const [accepted] = await jobQueues.submit([request.body as JobRequest]);
    return reply.code(202).send({ id: accepted!.id, type: accepted!.type, status: 'queued' });
  });
  app.get<{ Params: { id: string } }>('/jobs/:id', async (request, reply) => {
    const view = await jobQueues.get(request.params.id);
    return view ? view : reply.code(404).send({ error: { code: 'job_not_found', message: 'No such job' } });
  });
}

const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ listening: url }));

process.once('SIGTERM', async () => {
  await app.close();
  await queues?.close();
  process.exit(0);
});
