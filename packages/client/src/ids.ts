/**
 * A random UUIDv4 for an Idempotency-Key. `crypto.randomUUID` exists in Node and in browser pages
 * served over https or from localhost; a page served over plain http elsewhere has only
 * `getRandomValues`, which makes the same kind of id.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return uuidV4(crypto.getRandomValues(new Uint8Array(16)));
}

/** A UUIDv4 (RFC 9562) from 16 random bytes: the version and variant bits set, the rest kept. */
export function uuidV4(random: Uint8Array): string {
  const bytes = Uint8Array.from(random.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
