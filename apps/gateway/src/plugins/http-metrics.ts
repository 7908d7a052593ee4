import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { renderMetrics, type GatewayMetrics } from '@curator/telemetry';
import { pools, type JobQueues } from '@curator/queue';

/** Times every request by route template, samples queue depth and workers, and serves `/metrics`. */
export const httpMetrics = fp(
  async (app: FastifyInstance, options: { metrics: GatewayMetrics; queues: JobQueues }) => {
    const { metrics, queues } = options;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
    metrics.setQueueDepthSource(() => queues.depths());
    metrics.setWorkerCountSource(async () => {
      const workers = await queues.workers();
      return pools.map((pool) => ({
        pool,
        alive: workers.filter((w) => w.pools.includes(pool)).length,
        ready: workers.filter((w) => w.pools.includes(pool) && w.ready).length,
      }));
    });
    const metricsSchema = {
      tags: ['system'],
      summary: 'Prometheus metrics of this gateway (text exposition format; docs/metrics.md)',
      response: { 200: { description: 'The metrics, for a Prometheus scrape.', content: { 'text/plain': { schema: z.string() } } } },
    };
    app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
      const rendered = await renderMetrics(metrics.registry);
      return reply.type(rendered.contentType).send(rendered.body);
    });
  },
  { name: 'curator-http-metrics' },
);
