import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { availableJobTypes, maxJobsPerBatch, type JobType } from '@curator/contracts';
import type { Env } from '@curator/config';
import type { JobQueues } from '@curator/queue';
import type { ObjectStorage } from '@curator/storage';
import type { GatewayMetrics, Logger } from '@curator/telemetry';
import { errorHandling, frameworkErrors, clientErrorHandler } from './plugins/errors.ts';
import { callerDecorator } from './caller.ts';
import { jsonBodies } from './plugins/body.ts';
import { corsPolicy } from './plugins/cors.ts';
import { rateLimiting } from './plugins/rate-limit.ts';
import { accessControl } from './plugins/access.ts';
import { securityHeaders } from './plugins/security.ts';
import { ContentPolicy, DailyJobQuota, KeyStore, contentPolicyFromEnv } from '@curator/access';
import { httpMetrics } from './plugins/http-metrics.ts';
import { apiDocs } from './plugins/docs.ts';
import { systemRoutes } from './plugins/system.ts';
import { jobRoutes } from './plugins/jobs.ts';
import { jobActionRoutes } from './plugins/job-actions.ts';
import { eventRoutes } from './plugins/events.ts';
import { webStudio, webStudioOptionsFromEnv } from './plugins/web.ts';
import { webhookAdmission, webhookAdmissionFromEnv } from './plugins/webhooks.ts';
import { JobViews } from './views.ts';

export interface GatewayDependencies {
  env: Env;
  queues: JobQueues;
  storage: ObjectStorage;
  metrics: GatewayMetrics;
  logger?: Logger;
  /** Job types this build can run; others answer 501. */
  jobTypes?: readonly JobType[];
  /** Heartbeat comments on event streams (default 15 s). */
  sseHeartbeatMs?: number;
  /** The rate limit's counting window (default a minute: RATE_LIMIT_PER_MINUTE); tests shorten it to see a reset. */
  rateLimitWindowMs?: number;
  /** The deployment's content policy (default: from CONTENT_POLICY_* in env). */
  contentPolicy?: ContentPolicy;
}

export type Gateway = FastifyInstance<any, any, any, any, ZodTypeProvider>;

/** TRUST_PROXY as Fastify takes it: a hop count trusts that many proxies nearest the gateway. */
function trustProxyOption(setting: Env['TRUST_PROXY']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** The REST API: one plugin per concern, registered in the order requests meet them. */
export async function buildGateway(deps: GatewayDependencies): Promise<Gateway> {
  const { env, queues, storage, metrics } = deps;
  const jobTypes = deps.jobTypes ?? availableJobTypes;
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request lines would drown the logs at load; the HTTP histogram counts every request.
    logController: new LogController({ disableRequestLogging: true }),
    // A batch may carry 100 articles at the size limit, JSON-escaped.
    bodyLimit: Math.max(1_048_576, env.MAX_ARTICLE_CHARS * 6 * maxJobsPerBatch),
    // Whose X-Forwarded-For to believe: nobody's unless configured (else clients pick their own IP).
    trustProxy: trustProxyOption(env.TRUST_PROXY),
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const views = new JobViews(queues, storage);
  await app.register(errorHandling);
  await app.register(callerDecorator);
  await app.register(jsonBodies);
  await app.register(securityHeaders, { hstsMaxAgeSeconds: env.HSTS_MAX_AGE_SECONDS });
  await app.register(corsPolicy, { origins: env.CORS_ORIGINS });
  // Before the access plugin's quota charge: a webhook refused at submission costs no quota.
  await app.register(webhookAdmission, webhookAdmissionFromEnv(env));
  await app.register(accessControl, {
    keys: new KeyStore(queues.redis, env.QUEUE_PREFIX),
    quota: new DailyJobQuota(queues.redis, env.QUEUE_PREFIX),
    contentPolicy: deps.contentPolicy ?? contentPolicyFromEnv(env),
    // A replay of an accepted submission adds no job: a spent quota does not refuse it.
    idempotencyKeyUsed: (owner, key) => queues.idempotencyKeyUsed(owner, key),
  });
  await app.register(rateLimiting, { perMinute: env.RATE_LIMIT_PER_MINUTE, redis: queues.redis, prefix: env.QUEUE_PREFIX, ...(deps.rateLimitWindowMs ? { windowMs: deps.rateLimitWindowMs } : {}) });
  // Before every route it documents (@fastify/swagger sees the routes registered after it).
  await app.register(apiDocs);
  await app.register(httpMetrics, { metrics, queues });
  await app.register(systemRoutes, { queues, storage, jobTypes });
  await app.register(jobRoutes, { queues, views, metrics, links: queues.links, maxArticleChars: env.MAX_ARTICLE_CHARS, jobTypes: new Set(jobTypes), preferWaitMaxSeconds: env.PREFER_WAIT_MAX_SECONDS });
  await app.register(jobActionRoutes, { queues, views, metrics, links: queues.links, jobTypes: new Set(jobTypes) });
  await app.register(eventRoutes, { queues, views, ...(deps.sseHeartbeatMs ? { heartbeatMs: deps.sseHeartbeatMs } : {}) });
  await app.register(webStudio, webStudioOptionsFromEnv(env));
  return app;
}
