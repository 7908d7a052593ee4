// Webhook messages of jobs: made when a job starts, progresses and finishes; delivered in order, one
// message of a job at a time, by a BullMQ queue (`webhooks`) that any worker process consumes.
import { randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  webhookMessageTypes,
  type JobRequest,
  type StoredJobView,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookPayload,
} from '@curator/contracts';
import { createRedis, logRedisErrors, type RedisErrorLog } from './connection.ts';
import { parentOfChildId, pools } from './names.ts';
import type { QueueSettings } from './settings.ts';
import type { JobData, JobReturn } from './job-data.ts';

export const webhookQueueName = 'webhooks';

/** One message as queued: what happened to which job and where it goes. Its body is made when it is sent. */
export interface WebhookMessage {
  /** `webhook-id`: unique per message, the same on every attempt of it. */
  id: string;
  jobId: string;
  event: WebhookEvent;
  type: WebhookPayload['type'];
  /** Order of the job's messages. */
  seq: number;
  url: string;
  /** Whose secret signs it: the job's owner (a key id), null for an anonymous job. */
  owner: string | null;
  /** The payload's `timestamp`: when the event happened (each attempt has its own webhook-timestamp). */
  occurredAt: string;
  /** How long the job's records are kept: the message's records follow. */
  ttlSeconds: number;
}

/** How one attempt went (the shape `@curator/webhooks`' attemptWebhook returns). */
export type DeliveryResult =
  | { outcome: 'delivered'; responseStatus: number }
  | { outcome: 'retry'; responseStatus: number | null; error: string; retryAfterMs: number | null }
  | { outcome: 'give-up'; responseStatus: number | null; error: string; gone?: boolean };

type DeliveryRecord = WebhookDelivery & { seq: number };

/** Redis keys of a job's webhook messages, beside BullMQ's `webhooks` queue under the same prefix. */
export function webhookKeys(prefix: string) {
  return {
    /** started and completed (the last run each was booked for), seq, active (the message being delivered), gone (a 410 came back). */
    state: (jobId: string) => `${prefix}:webhook:${jobId}:state`,
    /** Messages waiting behind the active one, oldest first. */
    outbox: (jobId: string) => `${prefix}:webhook:${jobId}:outbox`,
    /** Message id → its latest attempt (what `webhook.deliveries` shows). */
    deliveries: (jobId: string) => `${prefix}:webhook:${jobId}:deliveries`,
    /** Present while a progress message of the job was made less than the progress interval ago. */
    progressGate: (jobId: string) => `${prefix}:webhook:${jobId}:progress-gate`,
  };
}

/**
 * Makes a message, atomically with the job's bookkeeping, so that every process may report the same
 * event and only one message results: per run of the job (a retry under the same id is a new run)
 * one `start` and one `completed`, and `progress` only between them and only if no progress message
 * already waits in the outbox (that one will carry the newest state when it is sent). Events the
 * job did not ask for are booked but make no message. After a 410 nothing more is made. The message
 * becomes the active one if none is, else it waits in the outbox.
 * Returns { made (0/1), the active message's JSON or false }.
 */
const makeMessageScript = `
local state, outbox, deliveries = KEYS[1], KEYS[2], KEYS[3]
local event, wanted, run, ttl = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3]), tonumber(ARGV[6])
local started = tonumber(redis.call('HGET', state, 'started') or '0')
local completed = tonumber(redis.call('HGET', state, 'completed') or '0')
local function result(made) return { made, redis.call('HGET', state, 'active') or false } end
if event == 'start' then
  if started >= run then return result(0) end
  redis.call('HSET', state, 'started', run)
elseif event == 'progress' then
  if started ~= run or completed >= run then return result(0) end
  local last = redis.call('LINDEX', outbox, -1)
  if last and cjson.decode(last).event == 'progress' then return result(0) end
else
  if completed >= run then return result(0) end
  redis.call('HSET', state, 'completed', run)
end
redis.call('EXPIRE', state, ttl)
if not wanted or redis.call('HEXISTS', state, 'gone') == 1 then return result(0) end
local message = cjson.decode(ARGV[4])
local record = cjson.decode(ARGV[5])
local seq = redis.call('HINCRBY', state, 'seq', 1)
message.seq = seq
record.seq = seq
local encoded = cjson.encode(message)
redis.call('HSET', deliveries, message.id, cjson.encode(record))
if redis.call('HEXISTS', state, 'active') == 1 then
  redis.call('RPUSH', outbox, encoded)
else
  redis.call('HSET', state, 'active', encoded)
end
redis.call('EXPIRE', outbox, ttl)
redis.call('EXPIRE', deliveries, ttl)
return result(1)
`;

/** Ends the active message ARGV[1] (if it still is): the next one in the outbox becomes active. Returns the active message or false. */
const nextMessageScript = `
local state, outbox = KEYS[1], KEYS[2]
local active = redis.call('HGET', state, 'active')
if active and cjson.decode(active).id == ARGV[1] then
  local following = redis.call('LPOP', outbox)
  if following then redis.call('HSET', state, 'active', following) else redis.call('HDEL', state, 'active') end
end
return redis.call('HGET', state, 'active') or false
`;

const newMessageId = () => `msg_${randomUUID().replaceAll('-', '')}`;

interface JobWebhookInfo {
  jobId: string;
  url: string;
  events: readonly WebhookEvent[];
  owner: string | null;
  ttlSeconds: number;
  /** Which run of the job: 1, then one more for each retry under the same id. */
  run: number;
}

/** Earlier runs of a job retried under its id are kept in its history. */
function runOf(data: JobData): number {
  const history = (data as { history?: unknown }).history;
  return (Array.isArray(history) ? history.length : 0) + 1;
}

function ownerOf(data: JobData): string | null {
  const owner = (data as { owner?: unknown }).owner;
  return typeof owner === 'string' && owner !== 'anonymous' ? owner : null;
}

export interface WebhookOutboxOptions {
  settings: QueueSettings;
  /** At most one progress message per job this often (the newest state wins). */
  progressIntervalMs: number;
  /** Attempts per message, the first one included. */
  attempts: number;
  logger: RedisErrorLog;
}

/**
 * The producing side: turns what happens to jobs into messages. Every call may be made more than
 * once for the same event, from any process: the bookkeeping in Redis makes one message of it.
 * Calls never throw (a message that cannot be made is logged).
 */
export class WebhookOutbox {
  private readonly redis: Redis;
  private readonly queue: Queue<WebhookMessage>;
  private readonly jobQueues: Record<string, Queue<JobData, JobReturn>>;
  private readonly keys: ReturnType<typeof webhookKeys>;
  private readonly settings: QueueSettings;
  private readonly options: WebhookOutboxOptions;
  /** What a job running here asked for (null: no webhook), read once when it starts. */
  private readonly known = new Map<string, Promise<JobWebhookInfo | null>>();
  /** Jobs with a progress message due when their progress gate opens. */
  private readonly progressDue = new Map<string, NodeJS.Timeout | null>();
  /** Jobs whose `start` was reported from this process (the report, to order later messages after it). */
  private readonly started = new Map<string, Promise<void>>();
  /** Reports under way: close() lets them finish. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: WebhookOutboxOptions) {
    this.options = options;
    this.settings = options.settings;
    this.keys = webhookKeys(options.settings.prefix);
    this.redis = createRedis(options.settings.redisUrl);
    logRedisErrors(this.redis, options.logger, 'webhook-outbox');
    this.queue = new Queue<WebhookMessage>(webhookQueueName, { connection: this.redis, prefix: options.settings.prefix });
    this.queue.on('error', () => undefined);
    this.jobQueues = Object.fromEntries(pools.map((pool) => [pool, new Queue<JobData, JobReturn>(pool, { connection: this.redis, prefix: options.settings.prefix })]));
  }

  /**
   * A worker took the job: what it asked for is read now. The `start` message waits for its first
   * progress (its first stage beginning), so a job that a worker finds expired or canceled, and
   * ends at once, gets only `completed`.
   */
  jobStarted(jobId: string): void {
    const target = parentOfChildId(jobId) ?? jobId;
    this.known.delete(target);
    void this.infoOf(target).catch(() => undefined);
  }

  /** The job (or its child) wrote progress: `start` if not yet made here, then a progress message now or when the job's progress gate opens. */
  jobProgressed(jobId: string): void {
    const target = parentOfChildId(jobId) ?? jobId;
    if (!this.started.has(target)) this.started.set(target, this.report(target, 'start'));
    if (this.progressDue.has(target)) return;
    this.progressDue.set(target, null);
    void this.progressWhenOpen(target);
  }

  /** The job reached a final status (succeeded, failed, canceled, expired). Child jobs are their parent's stages: nothing of their own. */
  jobFinished(jobId: string): Promise<void> {
    if (parentOfChildId(jobId)) return Promise.resolve(this.jobLeft(jobId));
    const due = this.progressDue.get(jobId);
    if (due) clearTimeout(due);
    this.progressDue.delete(jobId);
    const start = this.started.get(jobId);
    this.started.delete(jobId);
    // Read afresh: the job may never have started here (expired, canceled while queued).
    this.known.delete(jobId);
    return (start ?? Promise.resolve()).then(() => this.report(jobId, 'completed')).finally(() => this.known.delete(jobId));
  }

  /** Forgets what a job running here asked for (it left this process without finishing). */
  jobLeft(jobId: string): void {
    const target = parentOfChildId(jobId) ?? jobId;
    this.known.delete(target);
    this.started.delete(target);
  }

  private async progressWhenOpen(jobId: string): Promise<void> {
    try {
      await this.started.get(jobId);
      const info = await this.infoOf(jobId);
      if (!info?.events.includes('progress')) return void this.progressDue.delete(jobId);
      const gate = this.keys.progressGate(jobId);
      const opened = await this.redis.set(gate, '1', 'PX', this.options.progressIntervalMs, 'NX');
      if (opened) {
        this.progressDue.delete(jobId);
        await this.make(info, 'progress');
        return;
      }
      const waitMs = Math.max(1, await this.redis.pttl(gate));
      if (!this.progressDue.has(jobId)) return;
      this.progressDue.set(
        jobId,
        setTimeout(() => void this.progressWhenOpen(jobId), waitMs),
      );
    } catch (error) {
      this.progressDue.delete(jobId);
      this.options.logger.warn({ err: error, jobId }, 'webhook progress message not made');
    }
  }

  private report(jobId: string, event: 'start' | 'completed'): Promise<void> {
    const reported = (async () => {
      try {
        const info = await this.infoOf(jobId);
        if (info) await this.make(info, event);
      } catch (error) {
        this.options.logger.warn({ err: error, jobId, event }, 'webhook message not made');
      }
    })();
    this.inFlight.add(reported);
    return reported.finally(() => this.inFlight.delete(reported));
  }

  private infoOf(jobId: string): Promise<JobWebhookInfo | null> {
    let info = this.known.get(jobId);
    if (!info) {
      info = this.readInfo(jobId);
      this.known.set(jobId, info);
      info.catch(() => this.known.delete(jobId));
    }
    return info;
  }

  private async readInfo(jobId: string): Promise<JobWebhookInfo | null> {
    for (const queue of Object.values(this.jobQueues)) {
      const job = await Job.fromId<JobData, JobReturn>(queue, jobId);
      if (!job) continue;
      const webhook = job.data.request.webhook;
      if (!webhook) return null;
      return {
        jobId,
        url: webhook.url,
        events: webhook.events,
        owner: ownerOf(job.data),
        ttlSeconds: job.data.request.ttlSeconds ?? this.settings.ttlSeconds,
        run: runOf(job.data),
      };
    }
    return null;
  }

  private async make(info: JobWebhookInfo, event: WebhookEvent): Promise<void> {
    const at = new Date().toISOString();
    const message: Omit<WebhookMessage, 'seq'> = { id: newMessageId(), jobId: info.jobId, event, type: webhookMessageTypes[event], url: info.url, owner: info.owner, occurredAt: at, ttlSeconds: info.ttlSeconds };
    const record: Omit<DeliveryRecord, 'seq'> = { id: message.id, event, attempt: 1, status: 'pending', responseStatus: null, error: null, at };
    const k = this.keys;
    const [, active] = (await this.redis.eval(
      makeMessageScript,
      3,
      k.state(info.jobId),
      k.outbox(info.jobId),
      k.deliveries(info.jobId),
      event,
      info.events.includes(event) ? '1' : '0',
      String(info.run),
      JSON.stringify(message),
      JSON.stringify(record),
      String(info.ttlSeconds),
    )) as [number, string | false];
    if (active) await enqueueMessage(this.queue, active, this.options.attempts);
  }

  async close(): Promise<void> {
    for (const timer of this.progressDue.values()) if (timer) clearTimeout(timer);
    this.progressDue.clear();
    await Promise.all(this.inFlight);
    await this.queue.close().catch(() => undefined);
    await Promise.all(Object.values(this.jobQueues).map((queue) => queue.close().catch(() => undefined)));
    this.redis.disconnect();
  }
}

/**
 * Puts the job's active message on the delivery queue. Its id is the message id, so adding it again
 * (any process may, after a crash between two steps) is a no-op while it is queued or being tried.
 */
async function enqueueMessage(queue: Queue<WebhookMessage>, encoded: string, attempts: number): Promise<void> {
  const message = JSON.parse(encoded) as WebhookMessage;
  await queue.add(message.type, message, {
    jobId: message.id,
    attempts,
    backoff: { type: 'webhook' },
    removeOnComplete: true,
    removeOnFail: { age: message.ttlSeconds },
  });
}

/** Thrown to BullMQ for an attempt to be retried; carries the receiver's Retry-After. */
class RetryDelivery extends Error {
  readonly retryAfterMs: number | null;
  constructor(message: string, retryAfterMs: number | null) {
    super(message);
    this.name = 'RetryDelivery';
    this.retryAfterMs = retryAfterMs;
  }
}

export interface WebhookDeliveryOptions {
  settings: QueueSettings;
  /** Messages this process sends at once. */
  concurrency: number;
  /** Attempts per message, the first one included (as the outbox was told). */
  attempts: number;
  /** The wait before retry number `retry` (1: after the first attempt). */
  retryDelayMs(retry: number, retryAfterMs: number | null): number;
  /** Makes the body, signs it and sends it: one attempt. */
  send(message: WebhookMessage): Promise<DeliveryResult>;
  logger: RedisErrorLog;
}

export interface WebhookDeliveries {
  close(): Promise<void>;
}

/**
 * The consuming side: sends each job's messages in order, one at a time, retrying with the given
 * backoff. A message's record (`webhook.deliveries`) shows its latest attempt; when it is delivered
 * or given up, the next message of its job goes out.
 */
export async function startWebhookDelivery(options: WebhookDeliveryOptions): Promise<WebhookDeliveries> {
  const { settings, logger } = options;
  const k = webhookKeys(settings.prefix);
  const commands = createRedis(settings.redisUrl);
  const blocking = createRedis(settings.redisUrl);
  logRedisErrors(commands, logger, 'webhook-commands');
  logRedisErrors(blocking, logger, 'webhook-worker');
  const queue = new Queue<WebhookMessage>(webhookQueueName, { connection: commands, prefix: settings.prefix });
  queue.on('error', () => undefined);

  const record = async (message: WebhookMessage, fields: Pick<WebhookDelivery, 'attempt' | 'status' | 'responseStatus' | 'error'>) => {
    const entry: DeliveryRecord = { id: message.id, event: message.event, seq: message.seq, ...fields, at: new Date().toISOString() };
    await commands.multi().hset(k.deliveries(message.jobId), message.id, JSON.stringify(entry)).expire(k.deliveries(message.jobId), message.ttlSeconds).exec();
  };
  const next = async (message: WebhookMessage) => {
    const active = (await commands.eval(nextMessageScript, 2, k.state(message.jobId), k.outbox(message.jobId), message.id)) as string | false;
    if (active) await enqueueMessage(queue, active, options.attempts);
  };
  const isActive = async (message: WebhookMessage) => {
    const active = await commands.hget(k.state(message.jobId), 'active');
    return active !== null && (JSON.parse(active) as WebhookMessage).id === message.id;
  };

  const deliver = async (job: Job<WebhookMessage>): Promise<string> => {
    const message = job.data;
    // Already settled (this is a second run of it after a crash): the job's next message is out.
    if (!(await isActive(message))) return 'settled';
    const attempt = job.attemptsMade + 1;
    if (await commands.hexists(k.state(message.jobId), 'gone')) {
      await record(message, { attempt, status: 'failed', responseStatus: null, error: 'Not sent: the receiver answered 410 Gone to an earlier message of this job' });
      await next(message);
      return 'failed';
    }
    const result = await options.send(message).catch((error: Error): DeliveryResult => ({ outcome: 'retry', responseStatus: null, error: `Could not make the message: ${error.message}`, retryAfterMs: null }));
    if (result.outcome === 'delivered') {
      await record(message, { attempt, status: 'delivered', responseStatus: result.responseStatus, error: null });
      await next(message);
      return 'delivered';
    }
    const last = attempt >= options.attempts;
    if (result.outcome === 'retry' && !last) {
      await record(message, { attempt, status: 'pending', responseStatus: result.responseStatus, error: result.error });
      throw new RetryDelivery(result.error, result.retryAfterMs);
    }
    const error = result.outcome === 'retry' ? `${result.error} (given up after ${attempt} attempts)` : result.error;
    await record(message, { attempt, status: 'failed', responseStatus: result.responseStatus, error });
    if (result.outcome === 'give-up' && result.gone) await commands.hset(k.state(message.jobId), 'gone', '1');
    logger.warn({ jobId: message.jobId, messageId: message.id, event: message.event, attempt }, `webhook message given up: ${error}`);
    await next(message);
    return 'failed';
  };

  const worker = new Worker<WebhookMessage>(webhookQueueName, deliver, {
    connection: blocking,
    prefix: settings.prefix,
    concurrency: Math.max(1, options.concurrency),
    // A worker that died mid-attempt leaves the message to another one; that run counts as an attempt.
    maxStalledCount: options.attempts,
    settings: { backoffStrategy: (attemptsMade, _type, error) => options.retryDelayMs(attemptsMade, error instanceof RetryDelivery ? error.retryAfterMs : null) },
  });
  worker.on('error', (error) => logger.warn({ err: error }, 'webhook worker connection error'));
  // A message whose processing failed for good outside `deliver`'s own judgement (Redis trouble on
  // its last attempt): let the job's next message go anyway.
  worker.on('failed', (job, error) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    logger.warn({ err: error, messageId: job.data.id, jobId: job.data.jobId }, 'webhook message failed');
    void record(job.data, { attempt: job.attemptsMade, status: 'failed', responseStatus: null, error: 'Not delivered: the delivery itself failed' })
      .then(() => next(job.data))
      .catch(() => undefined);
  });
  await worker.waitUntilReady();

  return {
    async close() {
      await worker.close();
      await queue.close().catch(() => undefined);
      commands.disconnect();
      blocking.disconnect();
    },
  };
}

/**
 * The job's webhook as its view shows it: where it goes, which events, each message's latest attempt
 * (oldest message first). null for a job without a webhook. One read, only for jobs with a webhook.
 */
export async function jobWebhook(redis: Redis, prefix: string, jobId: string, request: Pick<JobRequest, 'webhook'>): Promise<StoredJobView['webhook']> {
  if (!request.webhook) return null;
  const stored = await redis.hvals(webhookKeys(prefix).deliveries(jobId));
  const deliveries = stored
    .map((text) => JSON.parse(text) as DeliveryRecord)
    .sort((a, b) => a.seq - b.seq)
    .map(({ seq: _seq, ...delivery }): WebhookDelivery => delivery);
  return { url: request.webhook.url, events: [...request.webhook.events], deliveries };
}
