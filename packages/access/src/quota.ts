import type { Redis } from 'ioredis';
import { accessKeys } from './redis-keys.ts';

/** Checks and spends in one step, so concurrent submissions on several gateways never overshoot. */
const chargeScript = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local jobs = tonumber(ARGV[1])
if used + jobs > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], jobs)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, used}
`;

const refundScript = `
local left = redis.call('DECRBY', KEYS[1], ARGV[1])
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
`;

export interface QuotaCharge {
  allowed: boolean;
  /** Jobs counted today, this charge included when allowed. */
  used: number;
  limit: number;
  /** The UTC day charged (`YYYY-MM-DD`): a refund goes back to the same day. */
  day: string;
  /** The next UTC midnight, when the count starts again. */
  resetsAt: Date;
}

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function nextUtcMidnight(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));
}

/** Seconds until the next UTC midnight, at least 1 (a `Retry-After` value). */
export function secondsUntil(when: Date, now: Date): number {
  return Math.max(1, Math.ceil((when.getTime() - now.getTime()) / 1000));
}

/**
 * Each key's daily job quota, counted per UTC day in Redis (every gateway replica shares it). A
 * charge is all or nothing: a batch that would pass the quota is refused whole and counts nothing.
 */
export class DailyJobQuota {
  private readonly k: ReturnType<typeof accessKeys>;

  private readonly redis: Redis;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.k = accessKeys(prefix);
  }

  async charge(keyId: string, jobs: number, limit: number, now = new Date()): Promise<QuotaCharge> {
    const day = utcDay(now);
    // Kept two days: long enough to outlive its day in any time zone, then gone by itself.
    const [allowed, used] = (await this.redis.eval(chargeScript, 1, this.k.quota(keyId, day), jobs, limit, 2 * 86_400)) as [number, number];
    return { allowed: allowed === 1, used, limit, day, resetsAt: nextUtcMidnight(now) };
  }

  /** Gives back jobs a charge counted that were not accepted after all (the request failed). */
  async refund(keyId: string, jobs: number, day: string): Promise<void> {
    await this.redis.eval(refundScript, 1, this.k.quota(keyId, day), jobs);
  }

  async used(keyId: string, now = new Date()): Promise<number> {
    return Number((await this.redis.get(this.k.quota(keyId, utcDay(now)))) ?? 0);
  }
}
