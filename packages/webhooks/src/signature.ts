import { createHmac } from 'node:crypto';
import { webhookSecretKey } from './secrets.ts';

/**
 * The Standard Webhooks signature scheme (https://www.standardwebhooks.com, version 1.0), symmetric
 * variant: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>` with the secret's bytes, sent as
 * `v1,<base64>` in `webhook-signature` (several, space-separated, while a secret is being rotated).
 */
export const signatureVersion = 'v1';

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
