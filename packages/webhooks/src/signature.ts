import { createHmac, timingSafeEqual } from 'node:crypto';
import { webhookPayloadSchema, type WebhookPayload } from '@curator/contracts';
import { webhookSecretKey } from './secrets.ts';

/**
 * The Standard Webhooks signature scheme (https://www.standardwebhooks.com, version 1.0), symmetric
 * variant: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>` with the secret's bytes, sent as
 * `v1,<base64>` in `webhook-signature` (several, space-separated, while a secret is being rotated).
 */
export const signatureVersion = 'v1';
/** Replay window: a message whose timestamp is further than this from the receiver's clock is refused. */
export const defaultToleranceSeconds = 300;

export type SignedHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

function signedContent(id: string, timestamp: string, body: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

function hmac(key: Buffer, content: Buffer): Buffer {
  return createHmac('sha256', key).update(content).digest();
}

/**
 * The three headers of one attempt. `secrets`: the current secret first; during a rotation the old
 * one too, so receivers still holding it keep verifying.
 */
export function signWebhook(message: { id: string; timestamp: number; body: string }, secrets: string | readonly string[]): SignedHeaders {
  if (message.id.includes('.')) throw new TypeError('A webhook id may not contain "."');
  if (!Number.isSafeInteger(message.timestamp) || message.timestamp < 0) throw new TypeError('A webhook timestamp is whole unix seconds');
  const timestamp = String(message.timestamp);
  const content = signedContent(message.id, timestamp, message.body);
  const signatures = (typeof secrets === 'string' ? [secrets] : secrets).map((secret) => `${signatureVersion},${hmac(webhookSecretKey(secret), content).toString('base64')}`);
  if (signatures.length === 0) throw new TypeError('Signing needs at least one secret');
  return { 'webhook-id': message.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

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

/** A message that must not be trusted; `reason` says why (the message says it in words). */
export class WebhookVerificationError extends Error {
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

export type HeaderSource = { get(name: string): string | null } | Record<string, string | readonly string[] | undefined>;

/** A header from a fetch `Headers` or a Node `IncomingHttpHeaders`-like record, whatever its case. */
function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.join(' ');
}

export interface VerifyWebhookInput {
  /** The raw request body, exactly as received (parsing and re-serialising it breaks the signature). */
  payload: string | Uint8Array;
  headers: HeaderSource;
  /** The `whsec_` secret, or several while rotating (any one matching is enough). */
  secret: string | readonly string[];
  /** Replay window in seconds, either side of now (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, for tests. */
  now?: Date;
}

/** Reads the headers, checks the timestamp is within the window and that at least one `v1` signature matches. */
export function verifySignature(input: VerifyWebhookInput): void {
  const id = header(input.headers, 'webhook-id');
  const timestamp = header(input.headers, 'webhook-timestamp');
  const signatures = header(input.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing_headers', 'The webhook-id, webhook-timestamp and webhook-signature headers are required');
  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not unix seconds');
  const tolerance = input.toleranceSeconds ?? defaultToleranceSeconds;
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const sentAt = Number(timestamp);
  if (now - sentAt > tolerance) throw new WebhookVerificationError('timestamp_too_old', `The message was signed ${now - sentAt} s ago, more than the ${tolerance} s allowed`);
  if (sentAt - now > tolerance) throw new WebhookVerificationError('timestamp_too_new', `The message is dated ${sentAt - now} s ahead, more than the ${tolerance} s allowed`);

  const content = signedContent(id, timestamp, input.payload);
  const expected = (typeof input.secret === 'string' ? [input.secret] : input.secret).map((secret) => hmac(webhookSecretKey(secret), content));
  const given = signatures
    .split(' ')
    .map((entry) => entry.split(','))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[0] === signatureVersion)
    .map(([, value]) => Buffer.from(value, 'base64'));
  // Every pair is compared (no early exit), each in constant time.
  let matched = false;
  for (const candidate of given) {
    for (const mac of expected) {
      if (candidate.length === mac.length && timingSafeEqual(candidate, mac)) matched = true;
    }
  }
  if (!matched) throw new WebhookVerificationError('invalid_signature', 'No webhook signature matches');
}

/**
 * Verifies a Curator webhook the Standard Webhooks way and returns its payload, or throws
 * `WebhookVerificationError`. Synchronous (node:crypto); `@curator/client` has the same for browsers
 * and other Web Crypto runtimes.
 */
export function verifyWebhook(input: VerifyWebhookInput): WebhookPayload {
  verifySignature(input);
  const text = typeof input.payload === 'string' ? input.payload : Buffer.from(input.payload).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'The body is not JSON');
  }
  const parsed = webhookPayloadSchema.safeParse(json);
  if (!parsed.success) throw new WebhookVerificationError('invalid_payload', `The body is not a Curator webhook payload: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
  return parsed.data;
}
