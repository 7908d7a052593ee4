// The gateway bench's reference servers, each a process of its own like the gateway:
//   node test/bench/servers/minimal.ts bare       POST /jobs parses the JSON body and answers 202 (Fastify alone)
//   node test/bench/servers/minimal.ts queue-add  POST /jobs calls BullMQ's Queue.add once per request with
//        Curator's job options and job ids (`@curator/queue/bench-peer`, a plain ioredis connection) and
//        answers 202 with the id: the "minimal Fastify + Queue.add route with the same job options"
//   node test/bench/servers/minimal.ts queue      POST /jobs enqueues the body as it came (no validation, no
//        plugins) with JobQueues.submit and answers 202 with the id; GET /jobs/:id answers JobQueues.get
//        as JSON (no presigning, no response schema)
// Settings (REDIS_URL, QUEUE_PREFIX, ...) come from the environment like the gateway's. Prints one JSON
// line `{"listening": url}` when it serves.
//
// `queue-add` and `queue` differ in what JobQueues.submit adds to Queue.add: the group commit (one MULTI
// of BullMQ's add scripts per event-loop turn), the listing entries (two ZADDs per job) and the gateway's
// command connection (bounded, auto-pipelined). Neither route validates the body: the bench always sends
// the same valid classify request.
import Fastify from 'fastify';
import { loadEnv } from '@curator/config';
import type { JobRequest } from '@curator/contracts';
import { JobQueues, queueSettingsFromEnv } from '@curator/queue';
import { createQueueAddPeer, type QueueAddPeer } from '@curator/queue/bench-peer';
import { createLogger } from '@curator/telemetry';

const kind = process.argv[2];
if (kind !== 'bare' && kind !== 'queue-add' && kind !== 'queue') throw new Error('usage: minimal.ts bare|queue-add|queue');

const env = loadEnv();
const app = Fastify();
let queues: JobQueues | QueueAddPeer | null = null;

if (kind === 'bare') {
  app.post('/jobs', async (_request, reply) => reply.code(202).send({ status: 'queued' }));
} else if (kind === 'queue-add') {
  const peer = await createQueueAddPeer(queueSettingsFromEnv(env), env.REDIS_COMMAND_TIMEOUT_MS);
  queues = peer;
  app.post('/jobs', async (request, reply) => {
    const body = request.body as JobRequest;
    const { id } = await peer.add(body);
    return reply.code(202).send({ id, type: body.type, status: 'queued' });
  });
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
