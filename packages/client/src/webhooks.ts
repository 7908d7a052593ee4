// Verifies Curator's webhooks (Standard Webhooks, HMAC-SHA256) with Web Crypto: the same code runs in
// browsers, Node 20+, Deno, Bun and edge runtimes: the one verifier Curator ships (`@curator/webhooks` signs).
import { webhookPayloadSchema, type WebhookPayload } from '@curator/contracts';

export type { WebhookPayload } from '@curator/contracts';

/** Replay window: a message further than this from the receiver's clock is refused. */
export const defaultWebhookToleranceSeconds = 300;

export type WebhookVerificationReason =
  /** One of webhook-id, webhook-timestamp, webhook-signature is absent. */
  | 'missing_headers'
  /** webhook-timestamp is not whole unix seconds. */
  | 'invalid_timestamp'
  /** Older than the replay window: a replay, or a clock far behind. */
  | 'timestamp_too_old'
  /** Further ahead than the replay window. */
  | 'timestamp_too_new'
  /** No `v1` signature matches: a wrong secret or a changed id, timestamp or body. */
  | 'invalid_signature'
  /** Signed correctly, but the body is not a Curator webhook payload. */
  | 'invalid_payload';

/** A message that must not be trusted; `reason` says why. */
export class WebhookVerificationError extends Error {
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

export function isWebhookVerificationError(value: unknown): value is WebhookVerificationError {
  return value instanceof WebhookVerificationError;
}

/** A fetch `Headers`, or a plain record such as Node's `request.headers` (any case). */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | readonly string[] | undefined>;

export interface VerifyWebhookOptions {
  /** The raw body exactly as received: `await request.text()`, or the bytes. Never re-serialised JSON. */
  payload: string | Uint8Array;
  headers: WebhookHeaders;
  /** Your `whsec_…` secret (several while rotating: any one matching is enough). */
  secret: string | readonly string[];
  /** Replay window in seconds either side of now (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock (for tests). */
  now?: Date;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.join(' ');
}

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function secretKeyBytes(secret: string): Uint8Array {
  const bytes = secret.startsWith('whsec_') ? base64Bytes(secret.slice('whsec_'.length)) : null;
  if (!bytes || bytes.length < 24) throw new TypeError('Not a webhook signing secret: expected "whsec_" followed by base64');
  return bytes;
}

const encoder = new TextEncoder();

function signedContent(id: string, timestamp: string, payload: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(`${id}.${timestamp}.`);
  const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const content = new Uint8Array(head.length + body.length);
  content.set(head, 0);
  content.set(body, head.length);
  return content;
}

/**
 * Verifies a webhook from Curator and returns its payload, or throws `WebhookVerificationError`:
 * the three headers present, the timestamp within the replay window, one `v1` signature matching
 * (checked by Web Crypto's HMAC verify, which compares in constant time), the body a Curator payload.
 * Use `webhook-id` to drop repeats (a message retried after a lost answer arrives again).
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<WebhookPayload> {
  const id = header(options.headers, 'webhook-id');
  const timestamp = header(options.headers, 'webhook-timestamp');
  const signatures = header(options.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing_headers', 'The webhook-id, webhook-timestamp and webhook-signature headers are required');
  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not unix seconds');
  const tolerance = options.toleranceSeconds ?? defaultWebhookToleranceSeconds;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const sentAt = Number(timestamp);
  if (now - sentAt > tolerance) throw new WebhookVerificationError('timestamp_too_old', `The message was signed ${now - sentAt} s ago, more than the ${tolerance} s allowed`);
  if (sentAt - now > tolerance) throw new WebhookVerificationError('timestamp_too_new', `The message is dated ${sentAt - now} s ahead, more than the ${tolerance} s allowed`);

  const content = signedContent(id, timestamp, options.payload);
  const keys = await Promise.all(
    (typeof options.secret === 'string' ? [options.secret] : options.secret).map((secret) =>
      crypto.subtle.importKey('raw', secretKeyBytes(secret) as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']),
    ),
  );
  const given = signatures
    .split(' ')
    .map((entry) => entry.split(','))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[0] === 'v1')
    .map(([, value]) => base64Bytes(value))
    .filter((bytes): bytes is Uint8Array => bytes !== null);
  const checks = await Promise.all(given.flatMap((signature) => keys.map((key) => crypto.subtle.verify('HMAC', key, signature as Uint8Array<ArrayBuffer>, content))));
  if (!checks.includes(true)) throw new WebhookVerificationError('invalid_signature', 'No webhook signature matches');

  let json: unknown;
  try {
    json = JSON.parse(typeof options.payload === 'string' ? options.payload : new TextDecoder().decode(options.payload));
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'The body is not JSON');
  }
  const parsed = webhookPayloadSchema.safeParse(json);
  if (!parsed.success) throw new WebhookVerificationError('invalid_payload', `The body is not a Curator webhook payload: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
  return parsed.data;
}
