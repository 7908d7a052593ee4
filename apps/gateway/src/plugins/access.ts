import { BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CuratorError, isCuratorError, type ApiKeyScope } from '@curator/contracts';
import {
  contentPolicyError,
  rerunContent,
  secondsUntil,
  submittedContent,
  submittedJobCount,
  type ContentField,
  type ContentPolicy,
  type DailyJobQuota,
  type KeyStore,
  type StoredApiKey,
} from '@curator/access';
import { anonymousOwner, hasScope, openCaller, type Caller } from '../caller.ts';
import { parseIdempotencyKey } from '../submission.ts';

export interface AccessOptions {
  keys: KeyStore;
  quota: DailyJobQuota;
  contentPolicy: ContentPolicy;
  /** How long "are there keys?" is believed before it is read again, in the background (default 1 s). */
  keysRefreshMs?: number;
  /**
   * Whether `owner`'s Idempotency-Key already names jobs (`JobQueues.idempotencyKeyUsed`). Asked only
   * when the daily quota refuses a request that carries one; without it such a request is 429.
   */
  idempotencyKeyUsed?: (owner: string, key: string) => Promise<boolean>;
}

/** Where an API route needs no key: probes, scrapes, the API's own docs, preflights. */
const publicRoutes = new Set(['/healthz', '/readyz', '/metrics']);
const isDocsRoute = (url: string) => url === '/docs' || url.startsWith('/docs/');

/**
 * What a route needs: `public`, or a scope. A route may say so itself with `config: { access }`;
 * otherwise reads need `read` and everything else `submit` (so a new route is never open by
 * mistake). The studio's files (@fastify/static routes, which carry `config.file`) are public.
 */
export function requiredAccess(request: FastifyRequest): 'public' | ApiKeyScope {
  const url = request.routeOptions.url;
  if (url === undefined || request.method === 'OPTIONS') return 'public';
  const config = request.routeOptions.config as { access?: 'public' | ApiKeyScope; file?: unknown } | undefined;
  if (config?.access) return config.access;
  if (publicRoutes.has(url) || isDocsRoute(url) || config?.file !== undefined) return 'public';
  return request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'submit';
}

/** A caller without a key on a public route (health, docs, the studio's files): no scopes at all. */
const publicCaller: Caller = { keyId: null, owner: anonymousOwner, scopes: new Set() };

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopbackAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  return family !== 0 && loopback.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Every client address a request names: the one Fastify settled on (the socket's, or the one
 * trusted proxies forwarded: TRUST_PROXY) and any a proxy put in X-Forwarded-For, X-Real-IP or
 * Forwarded, trusted or not. An open gateway serves a request only when all of them are loopback,
 * so a reverse proxy on the same host that TRUST_PROXY does not name cannot open it to the world.
 */
function namedAddresses(request: FastifyRequest): string[] {
  const out = [request.ip];
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : (value ?? '');
  };
  out.push(...header('x-forwarded-for').split(','), header('x-real-ip'));
  for (const pair of header('forwarded').split(/[,;]/)) {
    const [name, value] = pair.split('=', 2).map((part) => part.trim());
    if (name?.toLowerCase() === 'for' && value) out.push(value.replace(/^"(.*)"$/, '$1'));
  }
  return out.map((a) => withoutPort(a.trim())).filter(Boolean);
}

/** `[::1]:8080` -> `::1`, `127.0.0.1:8080` -> `127.0.0.1`; anything else as it is (unknown forms are not loopback). */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(address);
  return v4 ? v4[1]! : address;
}

const redisTrouble = (error: unknown) =>
  isCuratorError(error) ? error : new CuratorError('queue_unavailable', `The key store is unavailable: ${(error as Error).message}`, { retryable: true, cause: error });

/** Where a failing background read is told (the app's logger). */
export interface PresenceLog {
  warn(fields: { err: unknown }, message: string): void;
}

/** How often a failing background read of "are there keys?" is logged (the last answer stands meanwhile). */
const presenceFailureLogMs = 60_000;

/**
 * Whether the deployment has keys (then every non-public request needs one) or runs open (then
 * only loopback clients are served). Stale-while-revalidate: once an answer is known it is given
 * at once, and when it is older than `refreshMs` one read in the background brings the next (a
 * key created on any replica is noticed within about `refreshMs`). Only before the first answer
 * does a request wait for Redis. So a hung Redis costs a request one command timeout (in its
 * route), not two (here, then in the route); while Redis is away the last answer stands.
 */
export class KeyPresence {
  private known: boolean | null = null;
  /** When the last read began (or a verified key was seen): the next starts `refreshMs` after it. */
  private checkedAt = 0;
  /** When a key was last verified: a read begun before it that says "none" is out of date. */
  private sawKeyAt = 0;
  private reading: Promise<boolean> | null = null;
  private failureLoggedAt = -Infinity;

  private readonly keys: Pick<KeyStore, 'hasActiveKeys'>;
  private readonly refreshMs: number;
  private readonly log: PresenceLog;

  constructor(keys: Pick<KeyStore, 'hasActiveKeys'>, refreshMs: number, log: PresenceLog) {
    this.keys = keys;
    this.refreshMs = refreshMs;
    this.log = log;
  }

  async get(): Promise<boolean> {
    const known = this.known;
    if (known === null) {
      try {
        return await this.read();
      } catch (error) {
        if (this.known !== null) return this.known;
        throw redisTrouble(error);
      }
    }
    if (this.reading === null && Date.now() - this.checkedAt >= this.refreshMs) {
      this.read().catch((error: unknown) => {
        const now = Date.now();
        if (now - this.failureLoggedAt < presenceFailureLogMs) return;
        this.failureLoggedAt = now;
        this.log.warn({ err: error }, `could not read whether API keys exist; going on with the last answer (${known ? 'keys required' : 'open, loopback only'})`);
      });
    }
    return known;
  }

  /** A key just verified: keys exist, whatever was read last (or is being read). */
  sawKey(): void {
    this.known = true;
    this.checkedAt = this.sawKeyAt = Date.now();
  }

  /** One read at a time; concurrent callers share it. */
  private read(): Promise<boolean> {
    if (this.reading) return this.reading;
    const startedAt = (this.checkedAt = Date.now());
    this.reading = this.keys
      .hasActiveKeys()
      .then((present) => {
        // A key verified while this read was under way is newer news than a "none" it began before.
        const answer = present || (this.known === true && this.sawKeyAt >= startedAt);
        this.known = answer;
        return answer;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}

const verifiedKeys = new WeakMap<FastifyRequest, StoredApiKey>();

/** The API key a request was verified with (its limits and policy), or null for an anonymous caller. */
export function verifiedKeyOf(request: FastifyRequest): StoredApiKey | null {
  return verifiedKeys.get(request) ?? null;
}

const unauthorized = (message: string) => new CuratorError('unauthorized', message);

/** `Authorization: Bearer <key>`: the key, or a 401 for any other shape. */
function bearerToken(header: string): string {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) throw unauthorized('Send the API key as "Authorization: Bearer <key>"');
  return match[1]!;
}

/** Job-creating routes: how many jobs a request asks for (the daily quota) and which of its texts the content policy reads. */
const admissions: Record<string, { jobs: (body: unknown) => number; content: (body: unknown) => ContentField[] }> = {
  'POST /jobs': { jobs: submittedJobCount, content: submittedContent },
  'POST /jobs/:id/rerun': { jobs: () => 1, content: rerunContent },
  'POST /jobs/:id/retry': { jobs: () => 1, content: () => [] },
};

const charges = new WeakMap<FastifyRequest, { keyId: string; jobs: number; day: string }>();

/**
 * API keys, scopes, the content policy at submission and the daily job quota.
 *
 * - `request.caller`: the key's caller (owner = key id), or anonymous. With keys configured a
 *   request without a valid one is 401 `unauthorized` (`WWW-Authenticate: Bearer`), and a key
 *   without the route's scope 403 `forbidden`. With none configured the gateway runs open: loopback
 *   clients are served as an anonymous caller with every scope, others get 401 naming the fix.
 * - Job-creating routes (submit, rerun, retry): the texts that become pictures pass the content
 *   policy (deployment + the key's own) or the request is 422 `content_policy` and nothing is
 *   enqueued; then the key's daily quota is charged for every job (a batch all or nothing: 429
 *   `quota_exceeded` with `Retry-After` to the next UTC midnight), and given back when the request
 *   fails after all or replays an Idempotency-Key. A request the quota refuses whose Idempotency-Key
 *   already names jobs goes on uncharged: the route replays them (or answers 409 for another body).
 */
export const accessControl = fp(
  async (app: FastifyInstance, options: AccessOptions) => {
    const { keys, quota, contentPolicy } = options;
    const presence = new KeyPresence(keys, options.keysRefreshMs ?? 1000, app.log);
    const lastTouched = new Map<string, number>();

    try {
      if (await presence.get()) app.log.info('API keys configured: every API request needs one');
      else app.log.warn('no API keys configured: running open, serving loopback clients only (create one with `curator keys create`)');
    } catch {
      app.log.warn('cannot read the API keys yet (Redis unavailable): API requests answer 503 until it answers');
    }

    /** Records a key's use at most once a minute per process (`keys list` shows it). */
    const touch = (key: StoredApiKey) => {
      const now = Date.now();
      if (now - (lastTouched.get(key.id) ?? 0) < 60_000) return;
      lastTouched.set(key.id, now);
      keys.touch(key.id).catch((error: Error) => app.log.warn({ err: error, keyId: key.id }, 'could not record an API key use'));
    };

    async function identify(request: FastifyRequest, reply: FastifyReply): Promise<Caller> {
      const header = request.headers.authorization;
      if (header !== undefined) {
        // Read every time, not cached: a revocation takes effect at once. On a hung Redis this read is
        // the request's one wait: its timeout answers 503 here, and nothing after it waits again.
        const verification = await keys.verify(bearerToken(header)).catch((error) => {
          throw redisTrouble(error);
        });
        if (!verification.ok) {
          reply.header('www-authenticate', 'Bearer error="invalid_token"');
          throw unauthorized(verification.reason === 'revoked' ? 'This API key was revoked' : 'This API key is not valid');
        }
        presence.sawKey();
        verifiedKeys.set(request, verification.key);
        touch(verification.key);
        return { keyId: verification.key.id, owner: verification.key.id, scopes: new Set(verification.key.scopes) };
      }
      if (await presence.get()) {
        reply.header('www-authenticate', 'Bearer');
        throw unauthorized('An API key is required: send "Authorization: Bearer <key>"');
      }
      if (!namedAddresses(request).every(isLoopbackAddress)) {
        reply.header('www-authenticate', 'Bearer');
        throw unauthorized('This gateway has no API keys yet and serves loopback clients only: create a key with `curator keys create` and send it as "Authorization: Bearer <key>"');
      }
      return openCaller;
    }

    app.addHook('onRequest', async (request, reply) => {
      const required = requiredAccess(request);
      if (required === 'public') {
        request.caller = publicCaller;
        return;
      }
      const caller = await identify(request, reply);
      request.caller = caller;
      if (!hasScope(caller, required)) throw new CuratorError('forbidden', `This API key lacks the "${required}" scope this route needs`);
    });

    /**
     * Whether a request the quota refused carries an Idempotency-Key that already names its owner's
     * jobs. Then it goes on to the route uncharged: the same request gets its earlier jobs back
     * (202, `Idempotent-Replayed: true`; a replay adds no job, so it costs nothing), another one
     * `409 idempotency_conflict`, which tells the client more than a 429 would (a new key would
     * still be refused). Only a refused request asks, so one with quota left makes no extra read.
     */
    async function repeatsEarlierSubmission(request: FastifyRequest): Promise<boolean> {
      if (!options.idempotencyKeyUsed) return false;
      let key: string | null;
      try {
        key = parseIdempotencyKey(request.headers);
      } catch {
        return false; // A malformed key names no jobs: refused like any new request.
      }
      if (key === null) return false;
      return options.idempotencyKeyUsed(request.caller.owner, key).catch((error) => {
        throw redisTrouble(error);
      });
    }

    app.addHook('preHandler', async (request, reply) => {
      const admission = admissions[`${request.method} ${request.routeOptions.url}`];
      if (!admission) return;
      const key = verifiedKeyOf(request);
      const violation = contentPolicy.withKey(key?.contentPolicy ?? null).check(admission.content(request.body));
      if (violation) {
        // The matched rule is the operator's business, not the caller's: it goes to the log only.
        request.log.info({ keyId: key?.id ?? null, path: violation.path, rule: violation.rule, matched: violation.matched }, 'content policy refused a request');
        throw contentPolicyError(violation);
      }
      if (!key?.dailyJobQuota) return;
      const jobs = admission.jobs(request.body);
      const now = new Date();
      const charge = await quota.charge(key.id, jobs, key.dailyJobQuota, now).catch((error) => {
        throw redisTrouble(error);
      });
      if (!charge.allowed) {
        if (await repeatsEarlierSubmission(request)) return;
        reply.header('retry-after', String(secondsUntil(charge.resetsAt, now)));
        const left = Math.max(0, charge.limit - charge.used);
        throw new CuratorError('quota_exceeded', `This API key's daily job quota (${charge.limit} jobs per UTC day) would be exceeded: ${left} left today, ${jobs} asked for; it resets at ${charge.resetsAt.toISOString()}`, {
          details: [{ path: jobs > 1 ? 'jobs' : '(request)', message: `${left} of ${charge.limit} jobs left today` }],
        });
      }
      charges.set(request, { keyId: key.id, jobs, day: charge.day });
    });

    // Only new accepted jobs count: a request charged and then refused (validation, 503), or answered
    // with the jobs of an earlier one (a replayed Idempotency-Key), gives them back.
    app.addHook('onResponse', async (request, reply) => {
      const charge = charges.get(request);
      if (!charge) return;
      const accepted = reply.statusCode >= 200 && reply.statusCode < 300;
      if (accepted && reply.getHeader('idempotent-replayed') !== 'true') return;
      await quota.refund(charge.keyId, charge.jobs, charge.day).catch((error: Error) => request.log.warn({ err: error, keyId: charge.keyId }, 'could not give back a daily quota charge'));
    });
  },
  { name: 'curator-access', dependencies: ['curator-caller'] },
);
