import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import { z } from 'zod';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import {
  CuratorError,
  availableJobTypes,
  batchAcceptedSchema,
  errorBodySchema,
  jobAcceptedSchema,
  jobLookupSchema,
  jobViewSchema,
  submitRequestSchema,
  workersResponseSchema,
  maxJobsPerBatch,
  type JobType,
  type JobView,
  type JobEvent,
} from '@curator/contracts';
import type { Env } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import { renderMetrics, type GatewayMetrics, type Logger } from '@curator/telemetry';
import { installErrorHandling } from './errors.ts';
import { parseSubmission } from './submission.ts';
import { presignResult } from './presign.ts';
import type { JobChangeNotifier } from './events.ts';
import { checkReadiness } from './readiness.ts';

export interface GatewayDependencies {
  env: Env;
  queues: JobQueues;
  storage: ObjectStorage;
  metrics: GatewayMetrics;
  notifier: JobChangeNotifier;
  logger?: Logger;
  /** Job types this build can run; others answer 501. */
  jobTypes?: readonly JobType[];
}

const version = '0.1.0';
const idParams = z.object({ id: z.string().min(1).max(200) });
const errorResponses = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 413: errorBodySchema, 429: errorBodySchema, 501: errorBodySchema, 503: errorBodySchema };

export type Gateway = FastifyInstance<any, any, any, any, ZodTypeProvider>;

export async function buildGateway(deps: GatewayDependencies): Promise<Gateway> {
  const { env, queues, storage, metrics, notifier } = deps;
  const available = new Set(deps.jobTypes ?? availableJobTypes);
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request lines would drown the logs at load; the HTTP histogram counts every request.
    logController: new LogController({ disableRequestLogging: true }),
    // A batch may carry 100 articles at the size limit, JSON-escaped.
    bodyLimit: Math.max(1_048_576, env.MAX_ARTICLE_CHARS * 6 * maxJobsPerBatch),
    trustProxy: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Curator API', version, description: 'Turns a news article into a publishable card: sentiment or genre, summary, headline and illustration.' },
      tags: [{ name: 'jobs' }, { name: 'system' }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (env.RATE_LIMIT_PER_MINUTE > 0) {
    await app.register(rateLimit, { max: env.RATE_LIMIT_PER_MINUTE, timeWindow: '1 minute', allowList: (request) => ['/healthz', '/readyz', '/metrics'].includes(request.url) });
  }

  const base = env.PUBLIC_URL?.replace(/\/$/, '') ?? '';
  const links = (id: string) => ({ self: `${base}/jobs/${id}`, events: `${base}/jobs/${id}/events` });
  const publicView = async (view: JobView): Promise<JobView> => ({ ...view, links: links(view.id), result: view.result === null ? null : await presignResult(view.result, storage) });

  metrics.setQueueDepthSource(() => queues.depths());
  metrics.setWorkerCountSource(async () => {
    const workers = await queues.workers();
    return (['text', 'image'] as const).map((pool) => ({
      pool,
      alive: workers.filter((w) => w.pools.includes(pool)).length,
      ready: workers.filter((w) => w.pools.includes(pool) && w.ready).length,
    }));
  });

  app.post('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Submit one job, or { jobs: [...] } (up to 100)',
      body: submitRequestSchema,
      response: { 202: z.union([jobAcceptedSchema, batchAcceptedSchema]), ...errorResponses },
    },
    // The body is parsed by parseSubmission, which names the wrong field precisely.
    validatorCompiler: () => (data) => ({ value: data }),
    // The hot path: the 202 body is built right here from typed values, so re-checking it against
    // its schema on every request (zod encode) would only cost throughput. The schema stays for /docs.
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: async (request, reply) => {
      const submission = parseSubmission(request.body, { maxArticleChars: env.MAX_ARTICLE_CHARS, availableJobTypes: available });
      const accepted = await queues.submit(submission.requests);
      for (const { type } of accepted) metrics.jobsSubmitted.inc({ type });
      const bodies = accepted.map(({ id, type }) => ({ id, type, status: 'queued' as const, links: links(id) }));
      if (!submission.batch) reply.header('location', bodies[0]!.links.self);
      return reply.code(202).send(submission.batch ? { jobs: bodies } : bodies[0]!);
    },
  });

  app.get('/jobs/:id', {
    schema: { tags: ['jobs'], summary: 'A job: status, progress, stages, result', params: idParams, response: { 200: jobViewSchema, 404: errorBodySchema } },
    handler: async (request) => {
      const view = await queues.get(request.params.id);
      if (!view) throw new CuratorError('job_not_found', `No job ${request.params.id}`, { details: [{ path: 'id', message: 'unknown job id' }] });
      return publicView(view);
    },
  });

  app.get('/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Several jobs at once: ?ids=a,b,c (unknown ids are reported, not dropped)',
      querystring: z.object({
        ids: z
          .string()
          .transform((s) => s.split(',').map((id) => id.trim()).filter(Boolean))
          .pipe(z.array(z.string().max(200)).min(1, 'name at least one id').max(maxJobsPerBatch, `name at most ${maxJobsPerBatch} ids`)),
      }),
      response: { 200: jobLookupSchema, 400: errorBodySchema },
    },
    handler: async (request) => {
      const ids = request.query.ids;
      const views = await queues.getMany(ids);
      return {
        jobs: await Promise.all(
          views.map(async (view, i) => (view ? publicView(view) : { id: ids[i]!, error: { code: 'job_not_found' as const, message: `No job ${ids[i]}` } })),
        ),
      };
    },
  });

  app.post('/jobs/:id/cancel', {
    schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: idParams, response: { 202: jobViewSchema, 404: errorBodySchema, 409: errorBodySchema } },
    handler: async (request, reply) => {
      const view = await queues.cancel(request.params.id);
      if (!view) throw new CuratorError('job_not_found', `No job ${request.params.id}`, { details: [{ path: 'id', message: 'unknown job id' }] });
      metrics.jobsCanceled.inc({ type: view.type });
      return reply.code(202).send(await publicView(view));
    },
  });

  app.get('/jobs/:id/events', {
    schema: {
      tags: ['jobs'],
      summary: 'Live job updates as server-sent events (each event carries the whole job); ends when the job does',
      params: idParams,
      response: { 404: errorBodySchema },
    },
    handler: async (request, reply) => {
      const first = await queues.get(request.params.id);
      if (!first) throw new CuratorError('job_not_found', `No job ${request.params.id}`, { details: [{ path: 'id', message: 'unknown job id' }] });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      let last = '';
      let closed = false;
      const send = (event: JobEvent['event'], view: JobView) => {
        const data = JSON.stringify({ event, job: view } satisfies JobEvent);
        res.write(`event: ${event}\ndata: ${data}\n\n`);
      };
      const terminal = (view: JobView) => view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled';
      const eventFor = (view: JobView): JobEvent['event'] =>
        view.status === 'succeeded' ? 'completed' : view.status === 'failed' ? 'failed' : view.status === 'canceled' ? 'canceled' : 'progress';
      let checking = false;
      let again = false;
      const check = async () => {
        if (closed) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          const view = await queues.get(request.params.id);
          if (!view || closed) return;
          const snapshot = JSON.stringify(view);
          if (snapshot !== last) {
            last = snapshot;
            send(eventFor(view), await publicView(view));
          }
          if (terminal(view)) finish();
        } catch (error) {
          request.log.warn({ err: error }, 'event stream read failed');
        } finally {
          checking = false;
          if (again && !closed) {
            again = false;
            void check();
          }
        }
      };
      const unsubscribe = notifier.subscribe(request.params.id, () => void check());
      const poll = setInterval(() => void check(), 1000);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15000);
      const finish = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        clearInterval(poll);
        clearInterval(keepAlive);
        res.end();
      };
      request.raw.on('close', finish);
      last = JSON.stringify(first);
      send('snapshot', await publicView(first));
      if (terminal(first)) finish();
    },
  });

  app.get('/workers', {
    schema: { tags: ['system'], summary: 'Live workers from their heartbeats', response: { 200: workersResponseSchema } },
    handler: async () => ({ workers: await queues.workers() }),
  });

  app.get('/healthz', { schema: { tags: ['system'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: { tags: ['system'], summary: 'Redis and S3 answer and a ready worker holds the models for each job type' },
    handler: async (request, reply) => {
      const readiness = await checkReadiness({ queues, storage, jobTypes: [...available] });
      return reply.code(readiness.ready ? 200 : 503).send(readiness);
    },
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const rendered = await renderMetrics(metrics.registry);
    return reply.type(rendered.contentType).send(rendered.body);
  });

  return app;
}
