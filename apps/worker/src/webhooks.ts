import type { Env } from '@curator/config';
import { terminalStatuses, type JobView, type StoredJobView, type WebhookPayload } from '@curator/contracts';
import {
  JobQueues,
  WebhookOutbox,
  defaultLinks,
  queueSettingsFromEnv,
  startWebhookDelivery,
  type AttemptOutcome,
  type DeliveryResult,
  type JobLinks,
  type RuntimeHooks,
  type WebhookMessage,
} from '@curator/queue';
import { presignResult, type ObjectStorage } from '@curator/storage';
import type { Logger } from '@curator/telemetry';
import { attemptWebhook, retryDelayMs, type RetrySchedule } from '@curator/webhooks';

/** The signing secret of a job's owner (a key id), or of anonymous jobs (null); null when there is none. */
export type WebhookSecrets = (owner: string | null) => Promise<string | null>;

export interface WorkerWebhooks {
  /** What the job runtime reports, turned into messages (start, throttled progress, completed). */
  hooks: RuntimeHooks;
  /** Stops sending (an attempt under way finishes); call after the job runtime closed. */
  close(): Promise<void>;
}

/** Attempts that leave the job unfinished: no `completed` message for them. */
const unfinished: ReadonlySet<AttemptOutcome> = new Set(['retrying', 'waiting', 'handed-back']);

/** Links under PUBLIC_URL when set, as the gateway writes them. */
function linksUnder(publicUrl: string | undefined): JobLinks {
  const base = publicUrl?.replace(/\/$/, '') ?? '';
  return (id) => {
    const links = defaultLinks(id);
    return { self: base + links.self, events: base + links.events };
  };
}

/** Anonymous jobs are signed with WEBHOOK_SECRET, a key's jobs with that key's own secret (never the other way round). */
export function webhookSecretsFrom(env: Pick<Env, 'WEBHOOK_SECRET'>, keys: { webhookSecretFor(owner: string): Promise<string | null> }): WebhookSecrets {
  return async (owner) => (owner === null ? (env.WEBHOOK_SECRET ?? null) : keys.webhookSecretFor(owner));
}

export function retryScheduleFromEnv(env: Pick<Env, 'WEBHOOK_ATTEMPTS' | 'WEBHOOK_RETRY_FIRST_DELAY_MS' | 'WEBHOOK_RETRY_WINDOW_SECONDS'>): RetrySchedule {
  return { attempts: env.WEBHOOK_ATTEMPTS, firstDelayMs: env.WEBHOOK_RETRY_FIRST_DELAY_MS, windowMs: env.WEBHOOK_RETRY_WINDOW_SECONDS * 1000 };
}

const isFinal = (view: StoredJobView) => terminalStatuses.includes(view.status);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Makes webhook messages from the job runtime's events, and delivers the messages of every job (in
 * whatever pool it ran) from the `webhooks` queue, signed with the job owner's secret.
 */
export async function startWorkerWebhooks(deps: { env: Env; storage: ObjectStorage; logger: Logger; secrets: WebhookSecrets }): Promise<WorkerWebhooks> {
  const { env, storage, logger } = deps;
  const settings = queueSettingsFromEnv(env);
  const schedule = retryScheduleFromEnv(env);
  // Reads jobs exactly as GET /jobs/:id does (deliveries included); presigned below.
  const jobs = new JobQueues({ settings, commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS, logger, links: linksUnder(env.PUBLIC_URL) });
  const outbox = new WebhookOutbox({ settings, progressIntervalMs: env.WEBHOOK_PROGRESS_INTERVAL_MS, attempts: schedule.attempts, logger });

  /**
   * The job for a message's body. A `completed` message is made by the runtime just before the
   * queue records the job's end, so its body waits (briefly) for the final state to be readable.
   */
  const jobFor = async (message: WebhookMessage): Promise<StoredJobView | null> => {
    for (let read = 0; ; read++) {
      const view = await jobs.get(message.jobId);
      if (!view || message.event !== 'completed' || isFinal(view) || read >= 50) return view;
      await pause(100);
    }
  };

  const send = async (message: WebhookMessage): Promise<DeliveryResult> => {
    const secret = await deps.secrets(message.owner);
    if (!secret) {
      const missing = message.owner === null ? 'WEBHOOK_SECRET is not set on the worker' : "the job's API key has no webhook secret";
      return { outcome: 'give-up', responseStatus: null, error: `Not sent: no signing secret (${missing})` };
    }
    const view = await jobFor(message);
    if (!view) return { outcome: 'give-up', responseStatus: null, error: 'Not sent: the job is no longer kept' };
    if (message.event === 'completed' && !isFinal(view)) {
      return { outcome: 'retry', responseStatus: null, error: "Not sent yet: the job's final state was not readable", retryAfterMs: null };
    }
    const data: JobView = await presignResult(view, storage);
    const payload: WebhookPayload = { type: message.type, timestamp: message.occurredAt, data };
    return attemptWebhook({
      url: message.url,
      id: message.id,
      body: JSON.stringify(payload),
      secrets: secret,
      network: { timeoutMs: env.WEBHOOK_TIMEOUT_MS, allowPrivate: env.FETCH_ALLOW_PRIVATE, allowedPorts: env.FETCH_ALLOWED_PORTS },
    });
  };

  const delivery =
    env.WEBHOOK_CONCURRENCY > 0
      ? await startWebhookDelivery({ settings, concurrency: env.WEBHOOK_CONCURRENCY, attempts: schedule.attempts, retryDelayMs: (retry, retryAfterMs) => retryDelayMs(schedule, retry, { retryAfterMs }), send, logger })
      : null;

  return {
    hooks: {
      jobStarted: ({ id }) => outbox.jobStarted(id),
      jobProgressed: ({ id }) => outbox.jobProgressed(id),
      // Awaited by the runtime: the completed message is booked before the job is recorded as finished.
      jobSettled: ({ id, outcome }) => (unfinished.has(outcome) ? outbox.jobLeft(id) : outbox.jobFinished(id)),
    },
    async close() {
      await delivery?.close();
      await outbox.close();
      await jobs.close();
    },
  };
}

/** Several hook sets as one: each event goes to every set that listens, in order. */
export function combineHooks(...sets: RuntimeHooks[]): RuntimeHooks {
  type Hook = (arg: unknown) => void | Promise<void>;
  const combined: Record<string, Hook> = {};
  for (const name of new Set(sets.flatMap((set) => Object.keys(set)))) {
    const handlers = sets.map((set) => (set as Record<string, Hook | undefined>)[name]).filter((handler) => handler !== undefined);
    // A hook the runtime awaits (jobSettled) is awaited for every handler that returns a promise.
    combined[name] = (arg) => {
      const pending = handlers.map((handler) => handler(arg)).filter((result) => result instanceof Promise);
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
    };
  }
  return combined as RuntimeHooks;
}
