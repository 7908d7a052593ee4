import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { fastifySSE } from '@fastify/sse';
import { errorBodySchema, jobEventSchema, type JobEvent, type StoredJobView } from '@curator/contracts';
import { isJobId, type JobQueues } from '@curator/queue';
import { idParams } from './jobs.ts';
import { followJob, jobNotFound, versionOf, viewerOf, type JobViews } from '../views.ts';

/** A comment line every this often keeps proxies from closing a quiet stream. */
export const defaultHeartbeatMs = 15_000;
/** What EventSource waits before reconnecting (with Last-Event-ID). */
const reconnectMs = 2_000;

function eventName(view: StoredJobView, first: boolean): JobEvent['event'] {
  if (view.status === 'succeeded') return 'completed';
  if (view.status === 'failed' || view.status === 'canceled' || view.status === 'expired') return view.status;
  return first ? 'snapshot' : 'progress';
}

/**
 * `GET /jobs/:id/events`: the job as server-sent events, pushed when it changes (BullMQ's events
 * prompt a fresh read of the job; no stream polls), until it ends. Each event carries the whole
 * job; its `id` is a version of the job's state, so a client that reconnects with `Last-Event-ID`
 * gets the job again only if it changed meanwhile, and always gets the final state.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ queues: JobQueues; views: JobViews; heartbeatMs?: number }> = async (app, options) => {
  const { queues, views } = options;
  await app.register(fastifySSE, { heartbeatInterval: options.heartbeatMs ?? defaultHeartbeatMs });
  // The event readers start with the gateway (not with its first stream), so none misses a change; while
  // Redis is away they connect when it is back, and streams wait for that.
  queues.startWatching().catch((error: Error) => app.log.warn({ err: error }, 'job event readers did not start'));

  app.get('/jobs/:id/events', {
    sse: { kind: 'manual' },
    schema: {
      tags: ['jobs'],
      summary: 'Live job updates as server-sent events (`data`: a JobEvent); ends when the job does. Resumable with Last-Event-ID.',
      params: idParams,
      response: {
        200: { description: 'text/event-stream; each event: `id` (the job state version), `event`, and `data`, a JobEvent', content: { 'text/event-stream': { schema: jobEventSchema } } },
        404: errorBodySchema,
        503: errorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      if (!isJobId(id)) throw jobNotFound(id);
      const closed = new AbortController();
      reply.sse.onClose(() => closed.abort());
      let sent = reply.sse.lastEventId;
      let first = true;
      // A job removed meanwhile (its TTL passed) ends the stream with the last state sent. If Redis went
      // away, the stream ends too: the client reconnects with Last-Event-ID and misses nothing.
      const lost = (error: Error | null) => request.log.info({ ...(error ? { err: error } : {}), jobId: id }, 'event stream ended: the job could not be read');
      for await (const view of followJob(queues, id, viewerOf(request.caller), closed.signal, lost)) {
        const version = versionOf(view);
        if (version !== sent) {
          const event = eventName(view, first);
          await reply.sse.send({ id: version, event, data: { event, job: await views.toPublic(view) } satisfies JobEvent, ...(first ? { retry: reconnectMs } : {}) });
          sent = version;
        }
        first = false;
        if (!reply.sse.isConnected) closed.abort();
      }
    },
  });
};
