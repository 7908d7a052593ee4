import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key secrets: `cur_<key id>_<43 base64url characters>` (32 random bytes). The prefix makes a
 * leaked key recognisable to secret scanners; the id in it finds the record with one read, so a
 * wrong secret costs one lookup and never a scan. Only the SHA-256 of the secret is stored: with
 * 256 random bits there is nothing to brute-force, so a slow password hash would only cost latency.
 */
export const apiKeySecretPrefix = 'cur_';

const keyIdPattern = /^[0-9a-f]{16}$/;
const secretPattern = /^cur_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A key's public id: 16 hex characters (64 random bits), also the owner its jobs are stored under. */
export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

export function isKeyId(value: string): boolean {
  return keyIdPattern.test(value);
}

export function newApiKeySecret(keyId: string): string {
  return `${apiKeySecretPrefix}${keyId}_${randomBytes(32).toString('base64url')}`;
}

/** The id a secret names, or null when it is not shaped like a Curator API key at all. */
export function keyIdOfSecret(secret: string): string | null {
  return secretPattern.exec(secret)?.[1] ?? null;
}

/** The public part of a secret, shown by `keys list` so a key in a config file can be told apart. */
export function secretDisplayPrefix(keyId: string): string {
  return `${apiKeySecretPrefix}${keyId}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares in constant time, so the time a wrong secret takes says nothing about the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/**
 * A webhook signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes.
 * Kept readable (HMAC signing needs the secret itself), unlike the API key's secret.
 */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
