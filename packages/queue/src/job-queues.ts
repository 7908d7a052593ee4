import { createHash, randomBytes } from 'node:crypto';
import { Queue, Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  CuratorError,
  isCuratorError,
  terminalStatuses,
  type Feedback,
  type FeedbackRequest,
  type JobListQuery,
  type JobRequest,
  type JobStatus,
  type JobType,
  type StoredJobView,
  type WorkerHeartbeat,
} from '@curator/contracts';
import { pools, poolForJobType, keys, isJobId, newJobId, childJobId, type Pool } from './names.ts';
import { anonymousOwner, type JobData, type JobReturn } from './job-data.ts';
import { toJobView, withChildProgress, asProgress, defaultLinks, type JobLinks } from './job-view.ts';
import { readHeartbeats } from './heartbeat.ts';
import { createCommandRedis, logRedisErrors, type RedisErrorLog } from './connection.ts';
import { jobOptions, jobTtlSeconds, type QueueSettings } from './settings.ts';
import { JobEvents, type JobWatch } from './job-events.ts';
import { jobWebhook } from './webhooks.ts';
import { cancelRemoval, indexMember, parseIndexMember } from './lifetime.ts';
import { stableStringify } from './stage-tracker.ts';
import { FeedbackLog } from './feedback.ts';

export interface JobQueuesOptions {
  settings: QueueSettings;
  /** Longest wait for one Redis command; a call that needs longer answers `queue_unavailable`. */
  commandTimeoutMs: number;
  logger: RedisErrorLog;
  links?: JobLinks;
}

export interface QueueDepth {
  queue: Pool;
  state: 'waiting' | 'prioritized' | 'active' | 'delayed' | 'failed' | 'waiting-children';
  count: number;
}

/** Who reads or acts on jobs: an owner sees its own jobs; `all` (an admin) sees every job. */
export interface Viewer {
  owner: string;
  all: boolean;
}

/** Every job: what the system itself (tests, tools) reads with. */
export const everyJob: Viewer = { owner: anonymousOwner, all: true };

export interface SubmitOptions {
  /** Whose jobs they are (default: anonymous). */
  owner?: string;
  /**
   * The client's Idempotency-Key and the fingerprint of its whole request: the same key with the
   * same fingerprint gives back the same jobs, with another fingerprint `idempotency_conflict`.
   */
  idempotency?: { key: string; fingerprint: string };
  /** The job these rerun. */
  rerunOf?: string;
}

export interface AcceptedJob {
  id: string;
  type: JobType;
  /** The job came from an earlier submission with the same Idempotency-Key. */
  replayed: boolean;
}

/** One page of `page()`: views newest first, and the cursor of the next page (null on the last). */
export interface JobsPage {
  jobs: StoredJobView[];
  nextCursor: string | null;
}

type CuratorJob = Job<JobData, JobReturn>;
type BullState = Awaited<ReturnType<CuratorJob['getState']>>;
interface PendingJob {
  pool: Pool;
  id: string;
  data: JobData;
  createdMs: number;
}
/** Most jobs in one group commit: bounds the size of one Redis transaction. */
const maxJobsPerAdd = 200;
/** How long an Idempotency-Key's first submission holds the key against other requests. */
const idempotencyLockMs = 60_000;
/** Most job ids whose pool a gateway remembers (about 100 bytes each); the oldest go first. */
const maxRememberedPools = 50_000;
/** Most index entries one listing request reads before it answers with what it found and a cursor. */
const maxScannedPerPage = 1000;

const isFinal = (status: JobStatus) => terminalStatuses.includes(status);
const sees = (viewer: Viewer, owner: string) => viewer.all || viewer.owner === owner;
const ownerOf = (job: CuratorJob) => job.data.owner ?? anonymousOwner;

/** A UUID (version 8: derived by hashing) from the deployment's salt, the owner, the key and the job's place in its request. */
function derivedJobId(salt: string, owner: string, key: string, index: number): string {
  const bytes = createHash('sha256').update(`${salt}\0${owner}\0${key}\0${index}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface Cursor {
  score: number;
  member: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.score, cursor.member])).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const [score, member] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof score === 'number' && Number.isFinite(score) && typeof member === 'string') return { score, member };
  } catch {
    // Reported below.
  }
  throw new CuratorError('validation_failed', 'Invalid cursor: pass the nextCursor of a previous page', { details: [{ path: 'querystring.cursor', message: 'not a cursor this API gave out' }] });
}

/**
 * The gateway's side of the queues: submit jobs, read them back (only the caller's own), list,
 * cancel, retry, watch them change. Every call is bounded: while Redis is unreachable or slow it
 * fails with `queue_unavailable` (retryable) within a few command timeouts instead of hanging the
 * request.
 */
export class JobQueues {
  /** The command connection (bounded); the rate limiter's store shares it. */
  readonly redis: Redis;
  private readonly queues: Record<Pool, Queue<JobData, JobReturn>>;
  readonly settings: QueueSettings;
  /** The links every job view and acceptance carries (PUBLIC_URL-based or relative). */
  readonly links: JobLinks;
  private readonly deadlineMs: number;
  private readonly events: JobEvents;
  private salt: Promise<string> | null = null;
  private readonly feedbackLog: FeedbackLog;
  /** Which pool each job id read so far is in (see `findJob`). */
  private readonly poolOfId = new Map<string, Pool>();

  constructor(options: JobQueuesOptions) {
    this.settings = options.settings;
    this.links = options.links ?? defaultLinks;
    // A call is a few commands in a row; BullMQ's first command also waits for the connection.
    this.deadlineMs = options.commandTimeoutMs * 3;
    this.redis = createCommandRedis(options.settings.redisUrl, options.commandTimeoutMs);
    logRedisErrors(this.redis, options.logger, 'gateway');
    const make = (pool: Pool) => new Queue<JobData, JobReturn>(pool, { connection: this.redis, prefix: options.settings.prefix });
    this.queues = { text: make('text'), image: make('image') };
    for (const queue of Object.values(this.queues)) queue.on('error', () => undefined);
    this.events = new JobEvents({ redisUrl: options.settings.redisUrl, prefix: options.settings.prefix, logger: options.logger });
    this.feedbackLog = new FeedbackLog(this.redis, options.settings.prefix);
  }

  private get keys() {
    return keys(this.settings.prefix);
  }

  /** Runs a gateway operation within its deadline; Redis trouble becomes `queue_unavailable`. */
  private async bounded<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.deadlineMs} ms`)), this.deadlineMs);
    });
    try {
      return await Promise.race([operation(), deadline]);
    } catch (error) {
      if (isCuratorError(error)) throw error;
      throw new CuratorError('queue_unavailable', `The job queue is unavailable (${what}): ${(error as Error).message}`, { retryable: true, cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------- submit ----------

  /**
   * Enqueues already-validated requests as `owner`'s jobs; returns their ids in order. Submissions
   * that arrive in the same turn of the event loop go to Redis together in one transaction with
   * their listing entries (group commit): under load that is one round trip for many requests.
   *
   * With an Idempotency-Key the ids are derived from (owner, key, place in the request), so
   * BullMQ's refusal of a duplicate id makes a repeated submission (a client retrying after a 503
   * whose first attempt reached Redis after all) land on the jobs it made the first time.
   */
  async submit(requests: JobRequest[], options: SubmitOptions = {}): Promise<AcceptedJob[]> {
    const owner = options.owner ?? anonymousOwner;
    const now = Date.now();
    const submittedAt = new Date(now).toISOString();
    const dataOf = (request: JobRequest): JobData => ({
      request,
      submittedAt,
      owner,
      queuedAt: submittedAt,
      ...(options.idempotency ? { idempotency: { fingerprint: options.idempotency.fingerprint } } : {}),
      ...(options.rerunOf ? { rerunOf: options.rerunOf } : {}),
    });
    return this.bounded('enqueue', async () => {
      const ids = options.idempotency ? await this.idempotentIds(requests, owner, options.idempotency) : null;
      // A job not in Redis yet is added even while another attempt with this request holds the key (that
      // attempt may have failed before its add): BullMQ keeps only one job per id whoever adds it first.
      const missing = requests.flatMap((request, i) => (ids?.exists[i] ? [] : [{ pool: poolForJobType(request.type), id: ids?.ids[i] ?? newJobId(), data: dataOf(request), createdMs: now }]));
      if (missing.length > 0) await this.commit(missing);
      // The jobs answer for the key from now on; the lock only covered the way there.
      if (ids?.lock) void this.redis.del(ids.lock).catch(() => undefined);
      if (!ids) return missing.map((job, i) => ({ id: job.id, type: requests[i]!.type, replayed: false }));
      return requests.map((request, i) => ({ id: ids.ids[i]!, type: request.type, replayed: ids.replayed[i]! }));
    });
  }

  /**
   * Whether `owner`'s Idempotency-Key already names jobs: the first id derived from it is a job in
   * a queue, so an earlier submission under the key was accepted and `submit()` with it answers that
   * one (same request: its jobs, replayed; another: 409). Reads only (it takes no lock); the gateway
   * asks it when a daily quota refuses a request, so that a replay, which adds no job, is not refused.
   * A submission's jobs are added in one transaction, so its first job stands for all of them.
   */
  async idempotencyKeyUsed(owner: string, key: string): Promise<boolean> {
    return this.bounded('idempotency', async () => (await this.poolHolding(derivedJobId(await this.saltOfIds(), owner, key, 0))) !== null);
  }

  private saltOfIds(): Promise<string> {
    this.salt ??= (async () => {
      const key = this.keys.idempotencySalt;
      const results = await this.redis.multi().set(key, randomBytes(32).toString('base64url'), 'NX').get(key).exec();
      const salt = results?.[1]?.[1];
      if (typeof salt !== 'string') throw new Error('the id salt could not be read');
      return salt;
    })().catch((error: unknown) => {
      this.salt = null;
      throw error;
    });
    return this.salt;
  }

  /**
   * The ids of an idempotent submission, and which of them exist already (from an earlier attempt
   * with the same key). Another request under the same key (a job of it with another fingerprint,
   * or another fingerprint holding the key's lock while its first attempt is under way) is 409.
   */
  private async idempotentIds(requests: JobRequest[], owner: string, idempotency: { key: string; fingerprint: string }): Promise<{ ids: string[]; exists: boolean[]; replayed: boolean[]; lock: string | null }> {
    const salt = await this.saltOfIds();
    const ids = requests.map((_, i) => derivedJobId(salt, owner, idempotency.key, i));
    const lock = this.keys.idempotencyLock(createHash('sha256').update(`${owner}\0${idempotency.key}`).digest('hex'));
    const pipeline = this.redis.pipeline().set(lock, idempotency.fingerprint, 'PX', idempotencyLockMs, 'NX').get(lock);
    for (const id of ids) for (const pool of pools) pipeline.hget(this.queues[pool].toKey(id), 'data');
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    const holder = results[1]?.[1] as string | null;
    const conflict = () => new CuratorError('idempotency_conflict', 'This Idempotency-Key was used with another request: send a new key for a new request');
    const existing = ids.map((_, i) => {
      const stored = pools.map((_, p) => results[2 + i * pools.length + p]?.[1] as string | null).find(Boolean);
      if (!stored) return false;
      const data = JSON.parse(stored) as Partial<JobData>;
      if (data.idempotency?.fingerprint !== idempotency.fingerprint) throw conflict();
      return true;
    });
    if (holder !== null && holder !== idempotency.fingerprint) throw conflict();
    // Not the first to hold the key: an earlier attempt with this request made (or is making) these jobs.
    const first = results[0]?.[1] === 'OK';
    return { ids, exists: existing, replayed: existing.map((exists) => exists || !first), lock: first ? lock : null };
  }

  private pending: { jobs: PendingJob[]; done: Promise<void> } | null = null;

  /** Adds jobs with the next group commit (at the end of this turn of the event loop). */
  private commit(jobs: PendingJob[]): Promise<void> {
    const pending = this.pending;
    if (pending && pending.jobs.length + jobs.length <= maxJobsPerAdd) {
      pending.jobs.push(...jobs);
      return pending.done;
    }
    const batch = { jobs: [...jobs], done: Promise.resolve() };
    batch.done = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (this.pending === batch) this.pending = null;
        this.write(batch.jobs).then(resolve, reject);
      });
    });
    this.pending = batch;
    return batch.done;
  }

  /**
   * One MULTI: every job (BullMQ's own add script, which leaves an existing id alone) and its
   * entries in its owner's and the admin's listing (ZADD NX: a repeated add keeps its place).
   */
  private async write(jobs: PendingJob[]): Promise<void> {
    // BullMQ's own wrapper of the shared command connection (its scripts are loaded there).
    const client = await this.queues.text.getBackend().client;
    const multi = client.multi() as unknown as ReturnType<Redis['multi']>;
    for (const job of jobs) {
      const opts = { ...jobOptions(this.settings, job.id), timestamp: job.createdMs };
      // Queued on the transaction now; its outcome is read from the transaction's results below.
      void new Job<JobData, JobReturn>(this.queues[job.pool], job.data.request.type, job.data, opts, job.id).addJob(multi as never).catch(() => undefined);
    }
    for (const job of jobs) {
      const member = indexMember({ type: job.data.request.type, id: job.id });
      multi.zadd(this.keys.ownerJobs(job.data.owner), 'NX', job.createdMs, member);
      multi.zadd(this.keys.allJobs, 'NX', job.createdMs, member);
    }
    const results = ((await multi.exec()) ?? []) as Array<[Error | null, unknown]>;
    if (results.length !== jobs.length * 3) throw new Error(`the job transaction held ${results.length} commands, not ${jobs.length * 3}`);
    results.slice(0, jobs.length).forEach(([error, value], i) => {
      if (error) throw error;
      if (typeof value === 'number' && value < 0) throw new Error(`BullMQ refused job ${jobs[i]!.id} (code ${value})`);
    });
  }

  // ---------- read ----------

  /**
   * A job and its state, asked together: the hash (`HGETALL`) and BullMQ's state script go out on the one
   * connection without waiting for each other, so Redis answers both in one round trip. They are two
   * commands, so a job may move between them; a finished job is one with `finishedOn`, and a pair that
   * disagrees about that (the job finished, or was retried, in between) is read again.
   */
  private async jobInPool(id: string, pool: Pool): Promise<{ job: CuratorJob; state: BullState } | null> {
    const queue = this.queues[pool];
    for (let attempt = 1; ; attempt++) {
      const [job, state] = await Promise.all([Job.fromId<JobData, JobReturn>(queue, id), queue.getJobState(id)]);
      if (!job) return null;
      const finalState = state === 'completed' || state === 'failed';
      if (finalState === Boolean(job.finishedOn) || attempt === 3) return { job, state };
    }
  }

  /** The pool whose queue holds job `id`, asked of every pool at once (`EXISTS`); null when none does. */
  private async poolHolding(id: string): Promise<Pool | null> {
    const found = await Promise.all(pools.map((pool) => this.redis.exists(this.queues[pool].toKey(id))));
    const index = found.indexOf(1);
    return index < 0 ? null : pools[index]!;
  }

  /**
   * A job wherever it is (`pool`: where the caller knows it is). A job stays in its pool, so once a read
   * found it the next read asks that pool alone (job and state in one round trip); a job this process has
   * not read yet is looked for in every pool at once (`EXISTS`), and then read where it is. A remembered
   * pool that no longer has the job is forgotten: an id derived from an Idempotency-Key may come back as
   * another type's job once the first has expired.
   */
  private async findJob(id: string, pool?: Pool): Promise<{ job: CuratorJob; state: BullState } | null> {
    const known = pool ?? this.poolOfId.get(id);
    if (known) {
      const found = await this.jobInPool(id, known);
      if (found || pool) return found;
      this.poolOfId.delete(id);
    }
    const where = await this.poolHolding(id);
    if (!where) return null;
    if (this.poolOfId.size >= maxRememberedPools) this.poolOfId.delete(this.poolOfId.keys().next().value!);
    this.poolOfId.set(id, where);
    return this.jobInPool(id, where);
  }

  /** A job by id, if `viewer` may see it; null for an unknown id, another owner's job, or one that is not a job id at all (never a BullMQ key). */
  get(id: string, viewer: Viewer = everyJob): Promise<StoredJobView | null> {
    if (!isJobId(id)) return Promise.resolve(null);
    return this.bounded('read', async () => (await this.read(id, viewer))?.view ?? null);
  }

  private async read(id: string, viewer: Viewer, pool?: Pool): Promise<{ job: CuratorJob; view: StoredJobView } | null> {
    const found = await this.findJob(id, pool);
    if (!found || !sees(viewer, ownerOf(found.job))) return null;
    const { job, state } = found;
    const view = toJobView(job, state, this.links, this.settings.ttlSeconds);
    // A parent waiting for its child, or back in the queue once the child is done, shows the child's stages.
    const waitsOnChild = state === 'waiting-children' || (view.status === 'running' && state !== 'active' && job.data.checkpoints !== undefined);
    const shown = waitsOnChild ? await this.withChild(view) : view;
    // Its webhook's messages, each with its latest delivery attempt (one read, only for jobs with a webhook).
    return { job, view: { ...shown, webhook: await jobWebhook(this.redis, this.settings.prefix, id, job.data.request) } };
  }

  /** A job waiting for its child shows the child's live stages. */
  private async withChild(view: StoredJobView): Promise<StoredJobView> {
    for (const pool of pools.filter((p) => p !== poolForJobType(view.type))) {
      const child = await Job.fromId<JobData, JobReturn>(this.queues[pool], childJobId(view.id, pool));
      const progress = asProgress(child?.progress);
      if (progress) return withChildProgress(view, progress);
    }
    return view;
  }

  /** The request a job was submitted with, as stored (defaults applied): what a rerun runs again. */
  request(id: string, viewer: Viewer = everyJob): Promise<JobRequest | null> {
    return this.original(id, viewer).then((found) => found?.request ?? null);
  }

  /** A job's request and view together (what a rerun starts from). */
  original(id: string, viewer: Viewer = everyJob): Promise<{ request: JobRequest; view: StoredJobView } | null> {
    if (!isJobId(id)) return Promise.resolve(null);
    return this.bounded('read', async () => {
      const found = await this.read(id, viewer);
      return found && { request: found.job.data.request, view: found.view };
    });
  }

  /** Several jobs in the order asked; null where there is none (or `viewer` may not see it). */
  list(ids: string[], viewer: Viewer = everyJob): Promise<Array<StoredJobView | null>> {
    return Promise.all(ids.map((id) => this.get(id, viewer)));
  }

  /**
   * `viewer`'s jobs (an admin's: every job), newest first, filtered, one page at a time. The
   * cursor names the last job of the page (its creation time and id), so jobs submitted meanwhile
   * never shift a later page. A page may hold fewer than `limit` jobs while more may follow (it
   * reads at most 1000 index entries); `nextCursor` is null only when nothing is left.
   */
  async page(query: JobListQuery, viewer: Viewer): Promise<JobsPage> {
    const index = viewer.all ? this.keys.allJobs : this.keys.ownerJobs(viewer.owner);
    const min = query.createdAfter ? `(${Date.parse(query.createdAfter)}` : '-inf';
    const before = query.createdBefore ? Date.parse(query.createdBefore) : Infinity;
    let last: Cursor | null = query.cursor ? decodeCursor(query.cursor) : null;
    return this.bounded('list', async () => {
      const jobs: StoredJobView[] = [];
      let scanned = 0;
      while (jobs.length < query.limit && scanned < maxScannedPerPage) {
        const candidates = await this.indexBelow(index, last, before, min, Math.min(query.limit - jobs.length + 10, maxScannedPerPage - scanned));
        if (candidates.length === 0) return { jobs, nextCursor: null };
        const wanted = candidates.filter((c) => !query.type || parseIndexMember(c.member).type === query.type);
        const found = await Promise.all(wanted.map(async (c) => ({ c, read: await this.read(parseIndexMember(c.member).id, viewer, poolForJobType(parseIndexMember(c.member).type)) })));
        const gone = found.filter((f) => !f.read).map((f) => f.c.member);
        // Entries whose job is gone (removed by hand, or before its reaper came): dropped as found.
        if (gone.length > 0) await this.redis.zrem(index, ...gone);
        const views = new Map(found.filter((f) => f.read).map((f) => [f.c.member, f.read!.view]));
        for (const candidate of candidates) {
          scanned++;
          last = candidate;
          const view = views.get(candidate.member);
          if (view && (!query.status || view.status === query.status)) jobs.push(view);
          if (jobs.length === query.limit) break;
        }
      }
      const more = (await this.indexBelow(index, last, before, min, 1)).length > 0;
      return { jobs, nextCursor: more && last ? encodeCursor(last) : null };
    });
  }

  /** Index entries below `after` (newest first by score, then by member, as ZRANGE REV orders them), above `min`. */
  private async indexBelow(index: string, after: Cursor | null, before: number, min: string, count: number): Promise<Cursor[]> {
    const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => ({ member: flat[2 * i]!, score: Number(flat[2 * i + 1]) }));
    const inRange = (c: Cursor) => c.score < before && (min === '-inf' || c.score > Number(min.slice(1)));
    if (!after) {
      const max = Number.isFinite(before) ? `(${before}` : '+inf';
      return pairs(await this.redis.zrange(index, max, min, 'BYSCORE', 'REV', 'LIMIT', 0, count, 'WITHSCORES'));
    }
    // Entries sharing the cursor's score (one group commit) come first, by member, then older ones.
    const [same, older] = await Promise.all([
      this.redis.zrange(index, String(after.score), String(after.score), 'BYSCORE', 'WITHSCORES'),
      this.redis.zrange(index, `(${Math.min(after.score, before)}`, min, 'BYSCORE', 'REV', 'LIMIT', 0, count, 'WITHSCORES'),
    ]);
    const sameBelow = pairs(same).filter((c) => c.member < after.member && inRange(c)).sort((a, b) => (a.member < b.member ? 1 : -1));
    return [...sameBelow, ...pairs(older)].slice(0, count);
  }

  // ---------- act ----------

  /**
   * Cancels a job. BullMQ's own cancel reaches only the worker object holding the job, so the
   * request is published to every worker (the holder aborts it) and left as a marker that a
   * worker picking the job up later honours.
   */
  async cancel(id: string, viewer: Viewer = everyJob): Promise<StoredJobView | null> {
    const view = await this.get(id, viewer);
    if (!view) return null;
    if (isFinal(view.status)) throw new CuratorError('job_not_cancelable', `Job ${id} already ${view.status}`);
    await this.bounded('cancel', async () => {
      await this.redis.set(this.keys.cancelMarker(id), '1', 'EX', jobTtlSeconds(this.settings, {}));
      await this.redis.publish(this.keys.cancelChannel, id);
    });
    return view;
  }

  /**
   * Runs a failed or expired job again under its id: its last run goes to `history`, its attempts
   * start over, its checkpoints and child jobs are dropped (the stage cache still answers what
   * did not change), and a deadline that has passed no longer applies. Other jobs: 409
   * `job_not_retryable`.
   */
  async retry(id: string, viewer: Viewer = everyJob): Promise<StoredJobView | null> {
    if (!isJobId(id)) return null;
    return this.bounded('retry', async () => {
      const found = await this.read(id, viewer);
      if (!found) return null;
      const { job, view } = found;
      const notRetryable = (why: string) => new CuratorError('job_not_retryable', `Job ${id} ${why}: only failed or expired jobs can be retried`);
      if (view.status !== 'failed' && view.status !== 'expired') throw notRetryable(`is ${view.status}`);
      const lock = this.keys.retryLock(id);
      if ((await this.redis.set(lock, '1', 'PX', this.deadlineMs, 'NX')) !== 'OK') throw notRetryable('is being retried already');
      try {
        const pool = poolForJobType(view.type);
        await this.dropChildren(id, pool);
        const data = job.data;
        const history = data.history ?? [];
        // A retry that failed half way and is sent again records the run once.
        if (history.at(-1)?.finishedAt !== view.finishedAt) {
          history.push({ attempt: history.length + 1, status: view.status, error: view.error, startedAt: view.startedAt, finishedAt: view.finishedAt });
        }
        const { checkpoints: _checkpoints, ...rest } = data;
        const { deadline, ...withoutDeadline } = rest.request;
        const request = (deadline && Date.parse(deadline) > Date.now() ? rest.request : withoutDeadline) as JobRequest;
        await job.updateData({ ...rest, request, history, queuedAt: new Date().toISOString() });
        // A fresh run: no progress (so it shows queued, not running), no stalls counted against it.
        await this.redis.hset(this.queues[pool].toKey(id), 'progress', '0', 'stc', '0');
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        await cancelRemoval(this.redis, this.settings.prefix, { pool, owner: ownerOf(job), type: view.type, id });
      } finally {
        await this.redis.del(lock).catch(() => undefined);
      }
      return (await this.read(id, viewer))?.view ?? null;
    });
  }

  /** A parent's child jobs and its record of them, so a retried parent starts its children afresh. */
  private async dropChildren(id: string, pool: Pool): Promise<void> {
    for (const other of pools.filter((p) => p !== pool)) await this.queues[other].remove(childJobId(id, other), { removeChildren: true });
    const parent = this.queues[pool];
    await this.redis.del(...['processed', 'failed', 'unsuccessful', 'dependencies'].map((suffix) => parent.toKey(`${id}:${suffix}`)));
  }

  /**
   * Records a rating of a finished job `viewer` may see (null when it may not: 404). A job still
   * under way is 409 `conflict`: there is nothing to rate yet.
   */
  async feedback(id: string, viewer: Viewer, input: FeedbackRequest): Promise<Feedback | null> {
    const view = await this.get(id, viewer);
    if (!view) return null;
    if (!isFinal(view.status)) throw new CuratorError('conflict', `Job ${id} is ${view.status}: rate it once it has finished`);
    return this.bounded('feedback', () => this.feedbackLog.record({ id, type: view.type, expiresAtMs: view.expiresAt ? Date.parse(view.expiresAt) : null }, input));
  }

  /** The feedback on a job `viewer` may see, oldest first (null: no such job for it). */
  async feedbackOn(id: string, viewer: Viewer = everyJob): Promise<Feedback[] | null> {
    if (!(await this.get(id, viewer))) return null;
    return this.bounded('feedback', () => this.feedbackLog.forJob(id));
  }

  // ---------- watch and the rest ----------

  /** Starts the event readers `watch` uses; resolves when they read (it waits while Redis is away). */
  startWatching(): Promise<void> {
    return this.events.start();
  }

  /** Subscribes to a job's changes (pushed from BullMQ's events; read the job again on each). */
  watch(id: string): JobWatch {
    return this.events.watch(id);
  }

  depths(): Promise<QueueDepth[]> {
    return this.bounded('count', async () => {
      const states = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'waiting-children'] as const;
      const out: QueueDepth[] = [];
      for (const pool of pools) {
        const counts = await this.queues[pool].getJobCounts(...states);
        for (const state of states) out.push({ queue: pool, state, count: counts[state] ?? 0 });
      }
      return out;
    });
  }

  workers(): Promise<WorkerHeartbeat[]> {
    return this.bounded('workers', () => readHeartbeats(this.redis, this.settings.prefix));
  }

  /** Resolves once the command connection is up (commands fail at once before that: no offline queue). */
  ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return this.bounded('connect', () => new Promise<void>((resolve) => this.redis.once('ready', () => resolve())));
  }

  ping(): Promise<unknown> {
    return this.bounded('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.events.close();
    await Promise.all(pools.map((pool) => this.queues[pool].close().catch(() => undefined)));
    this.redis.disconnect();
  }
}

/** The fingerprint of a request for Idempotency-Key checks: equal for equal content, whatever the key order. */
export function requestFingerprint(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('base64url');
}
