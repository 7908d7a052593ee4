import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CuratorError, apiKeySchema, apiKeyScopeSchema, type ApiKey, type ApiKeyScope } from '@curator/contracts';
import { accessKeys } from './redis-keys.ts';
import { ContentPolicy } from './content-policy.ts';
import { hashSecret, isKeyId, keyIdOfSecret, newApiKeySecret, newKeyId, newWebhookSecret, secretDisplayPrefix, secretMatches } from './secrets.ts';

/** A key's own additions to the deployment's content policy. */
export const keyContentPolicySchema = z
  .object({
    /** The deployment's terms and patterns do not apply to this key (its own still do). */
    exempt: z.boolean().default(false),
    terms: z.array(z.string().trim().min(1).max(200)).max(1000).default([]),
    patterns: z.array(z.string().min(1).max(1000)).max(200).default([]),
  })
  .strict();
export type KeyContentPolicy = z.output<typeof keyContentPolicySchema>;

/** What is stored per key: the public record plus the secret's hash, the webhook secret and the key's policy. */
const storedKeySchema = apiKeySchema.omit({ lastUsedAt: true }).extend({
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  webhookSecret: z.string().startsWith('whsec_'),
  contentPolicy: keyContentPolicySchema,
});
export type StoredApiKey = z.output<typeof storedKeySchema> & { lastUsedAt: string | null };

export const newApiKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z.array(apiKeyScopeSchema).min(1).default(['submit', 'read']),
    rateLimitPerMinute: z.int().min(1).max(1_000_000).nullable().default(null),
    dailyJobQuota: z.int().min(1).max(100_000_000).nullable().default(null),
    contentPolicy: keyContentPolicySchema.default({ exempt: false, terms: [], patterns: [] }),
  })
  .strict();
export type NewApiKey = z.input<typeof newApiKeySchema>;

export interface CreatedApiKey {
  key: ApiKey & { contentPolicy: KeyContentPolicy };
  /** The API key itself: shown once, never stored. */
  secret: string;
  /** Signs this key's webhook deliveries (Standard Webhooks); `webhookSecretFor(key id)` reads it back. */
  webhookSecret: string;
}

export type Verification =
  | { ok: true; key: StoredApiKey }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

/** The public view of a stored key (no hash, no webhook secret). */
export function publicKey(stored: StoredApiKey): ApiKey & { contentPolicy: KeyContentPolicy } {
  const { secretHash: _hash, webhookSecret: _webhook, ...rest } = stored;
  return rest;
}

/**
 * API keys in Redis under the deployment's prefix: one JSON record per key (never the secret, only
 * its SHA-256), an index of every key by creation time, the set of keys not revoked (whether the
 * gateway runs open), and each key's last use apart from the record so a use never rewrites it.
 */
export class KeyStore {
  private readonly k: ReturnType<typeof accessKeys>;

  private readonly redis: Redis;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.k = accessKeys(prefix);
  }

  async create(input: NewApiKey, now = new Date()): Promise<CreatedApiKey> {
    const parsed = newApiKeySchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.join('.') || '(root)';
      throw new CuratorError('validation_failed', `Invalid ${path}: ${issue.message}`, { details: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })) });
    }
    // A pattern RE2 cannot take is refused now, not at the key's first submission.
    ContentPolicy.compile(parsed.data.contentPolicy, 'contentPolicy');
    const id = newKeyId();
    const secret = newApiKeySecret(id);
    const webhookSecret = newWebhookSecret();
    const stored: StoredApiKey = {
      id,
      name: parsed.data.name,
      prefix: secretDisplayPrefix(id),
      scopes: [...new Set(parsed.data.scopes)],
      rateLimitPerMinute: parsed.data.rateLimitPerMinute,
      dailyJobQuota: parsed.data.dailyJobQuota,
      contentPolicy: parsed.data.contentPolicy,
      createdAt: now.toISOString(),
      revokedAt: null,
      lastUsedAt: null,
      secretHash: hashSecret(secret),
      webhookSecret,
    };
    const { lastUsedAt: _unused, ...record } = stored;
    await this.redis.multi().set(this.k.key(id), JSON.stringify(record)).zadd(this.k.index, now.getTime(), id).sadd(this.k.active, id).exec();
    return { key: publicKey(stored), secret, webhookSecret };
  }

  /** A key by id (revoked ones too), with its last use; null for an unknown id. */
  async get(id: string): Promise<StoredApiKey | null> {
    if (!isKeyId(id)) return null;
    const [record, lastUsed] = await this.redis.mget(this.k.key(id), this.k.lastUsed(id));
    return record ? this.parse(record, lastUsed ?? null) : null;
  }

  /** Every key, oldest first, revoked ones included. */
  async list(): Promise<Array<ApiKey & { contentPolicy: KeyContentPolicy }>> {
    const ids = await this.redis.zrange(this.k.index, '0', '-1');
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.flatMap((id) => [this.k.key(id), this.k.lastUsed(id)]));
    const out: Array<ApiKey & { contentPolicy: KeyContentPolicy }> = [];
    for (let i = 0; i < ids.length; i++) {
      const record = values[2 * i];
      if (record) out.push(publicKey(this.parse(record, values[2 * i + 1] ?? null)));
    }
    return out;
  }

  /** Revokes a key (at once, on every gateway); revoking it again keeps the first time. Null for an unknown id. */
  async revoke(id: string, now = new Date()): Promise<(ApiKey & { contentPolicy: KeyContentPolicy }) | null> {
    const stored = await this.get(id);
    if (!stored) return null;
    if (stored.revokedAt === null) {
      stored.revokedAt = now.toISOString();
      const { lastUsedAt: _unused, ...record } = stored;
      await this.redis.multi().set(this.k.key(id), JSON.stringify(record)).srem(this.k.active, id).exec();
    }
    return publicKey(stored);
  }

  /** Checks a presented secret: one read by the id the secret names, the hash compared in constant time. */
  async verify(secret: string): Promise<Verification> {
    const id = keyIdOfSecret(secret);
    if (!id) return { ok: false, reason: 'malformed' };
    const key = await this.get(id);
    if (!key || !secretMatches(secret, key.secretHash)) return { ok: false, reason: 'unknown' };
    if (key.revokedAt !== null) return { ok: false, reason: 'revoked' };
    return { ok: true, key };
  }

  /** Whether any key is not revoked: without one the gateway runs open (loopback clients only). */
  async hasActiveKeys(): Promise<boolean> {
    return (await this.redis.scard(this.k.active)) > 0;
  }

  /** Records a use (callers throttle this: one write per key per minute is plenty). */
  async touch(id: string, at = new Date()): Promise<void> {
    await this.redis.set(this.k.lastUsed(id), at.toISOString());
  }

  /**
   * The secret that signs webhooks of jobs stored under `owner` (a key id), revoked keys included
   * (their jobs may still finish); null for `anonymous` or an unknown owner: use the deployment's
   * WEBHOOK_SECRET then.
   */
  async webhookSecretFor(owner: string): Promise<string | null> {
    return (await this.get(owner))?.webhookSecret ?? null;
  }

  /** The content policy additions of the key `owner`; null for `anonymous` or an unknown owner. */
  async contentPolicyFor(owner: string): Promise<KeyContentPolicy | null> {
    return (await this.get(owner))?.contentPolicy ?? null;
  }

  private parse(record: string, lastUsed: string | null): StoredApiKey {
    const stored = storedKeySchema.parse(JSON.parse(record));
    return { ...stored, lastUsedAt: lastUsed };
  }
}

export type { ApiKey, ApiKeyScope };
