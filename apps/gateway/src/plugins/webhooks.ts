import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { CuratorError, type ErrorDetail } from '@curator/contracts';
import type { Env } from '@curator/config';
import { webhookUrlProblem, type WebhookUrlRules } from '@curator/webhooks';
import type { Caller } from '../caller.ts';

export interface WebhookAdmissionOptions {
  /** The article fetch rules, which webhook URLs share (FETCH_ALLOW_PRIVATE, FETCH_ALLOWED_PORTS). */
  urls: WebhookUrlRules;
  /** Whether WEBHOOK_SECRET is set: without it anonymous jobs cannot have webhooks (nothing would sign them). */
  anonymousSecret: boolean;
}

export function webhookAdmissionFromEnv(env: Pick<Env, 'FETCH_ALLOW_PRIVATE' | 'FETCH_ALLOWED_PORTS' | 'WEBHOOK_SECRET'>): WebhookAdmissionOptions {
  return { urls: { allowPrivate: env.FETCH_ALLOW_PRIVATE, allowedPorts: env.FETCH_ALLOWED_PORTS }, anonymousSecret: env.WEBHOOK_SECRET !== undefined };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The `webhook` objects a request body carries, with the path each sits at: one job, a batch, or a rerun. */
function webhooksIn(body: unknown): Array<{ path: string; webhook: Record<string, unknown> }> {
  if (!isObject(body)) return [];
  if (Array.isArray(body.jobs)) {
    return body.jobs.flatMap((job, index) => (isObject(job) && isObject(job.webhook) ? [{ path: `jobs.${index}.webhook`, webhook: job.webhook }] : []));
  }
  return isObject(body.webhook) ? [{ path: 'webhook', webhook: body.webhook }] : [];
}

/**
 * What is wrong with a request's webhooks before anything is enqueued: a URL that can never be
 * delivered to (credentials, a port or an address the fetch rules refuse) names `….webhook.url`;
 * an anonymous job's webhook where no WEBHOOK_SECRET could sign it names `….webhook`. Shapes the
 * request schema refuses (no URL, not http) are left to it.
 */
export function webhookProblems(body: unknown, options: WebhookAdmissionOptions, caller: Pick<Caller, 'keyId'>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  for (const { path, webhook } of webhooksIn(body)) {
    if (caller.keyId === null && !options.anonymousSecret) {
      problems.push({ path, message: 'this gateway has no WEBHOOK_SECRET to sign the webhooks of anonymous jobs: send an API key (its own secret signs them) or set WEBHOOK_SECRET' });
    }
    if (typeof webhook.url !== 'string') continue;
    const problem = webhookUrlProblem(webhook.url, options.urls);
    if (problem) problems.push({ path: `${path}.url`, message: `${problem}: webhook URLs obey the same address rules as article URLs` });
  }
  return problems;
}

/** Routes whose body may carry a `webhook`. */
const admissions = new Set(['POST /jobs', 'POST /jobs/:id/rerun']);

/** Refuses (400 `validation_failed`, naming the field) a webhook that could never be delivered or signed. */
export const webhookAdmission = fp(
  async (app: FastifyInstance, options: WebhookAdmissionOptions) => {
    app.addHook('preHandler', async (request) => {
      if (!admissions.has(`${request.method} ${request.routeOptions.url}`)) return;
      const problems = webhookProblems(request.body, options, request.caller);
      const first = problems[0];
      if (first) throw new CuratorError('validation_failed', `Invalid ${first.path}: ${first.message}`, { details: problems });
    });
  },
  { name: 'curator-webhook-admission' },
);
