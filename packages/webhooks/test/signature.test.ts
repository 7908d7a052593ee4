import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError, type WebhookVerificationReason } from '@curator/client';
import { samplePayload, now } from './support/payload.ts';
import { signWebhook, webhookSecretProblem } from '../src/index.ts';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const secret = newSecret();
const nowSeconds = Math.floor(now.getTime() / 1000);

const body = JSON.stringify(samplePayload);
const signed = (overrides: { id?: string; timestamp?: number; secrets?: string | string[] } = {}) =>
  signWebhook({ id: overrides.id ?? 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', timestamp: overrides.timestamp ?? nowSeconds, body }, overrides.secrets ?? secret);

const refusedFor = (reason: WebhookVerificationReason) => (error: unknown) => error instanceof WebhookVerificationError && error.reason === reason;

/**
 * Receivers verify with the client's `verifyWebhook` (Web Crypto); the Standard Webhooks reference
 * library is the independent check that what is signed here is the standard, both ways.
 */
async function refused(input: Parameters<typeof verifyWebhook>[0], reason: WebhookVerificationReason): Promise<void> {
  await assert.rejects(verifyWebhook(input), refusedFor(reason), reason);
}

test('a signed message verifies and gives back its payload', async () => {
  const headers = signed();
  assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.equal(headers['webhook-timestamp'], String(nowSeconds));
  assert.deepEqual(await verifyWebhook({ payload: body, headers, secret, now }), samplePayload);
  // Raw bytes, a fetch Headers object and header names in any case work too.
  const fetchHeaders = new Headers(headers as unknown as Record<string, string>);
  assert.deepEqual(await verifyWebhook({ payload: new TextEncoder().encode(body), headers: fetchHeaders, secret, now }), samplePayload);
  const shouting = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
  assert.deepEqual(await verifyWebhook({ payload: Buffer.from(body), headers: shouting, secret, now }), samplePayload);
});

test('interoperates with the Standard Webhooks reference library, both ways', async () => {
  const reference = new Webhook(secret);
  const ours = signed({ timestamp: Math.floor(Date.now() / 1000) });
  assert.deepEqual(reference.verify(body, { ...ours }), samplePayload);
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const theirs = { 'webhook-id': id, 'webhook-timestamp': String(nowSeconds), 'webhook-signature': reference.sign(id, now, body) };
  assert.equal(theirs['webhook-signature'], signed({ id })['webhook-signature']);
  assert.deepEqual(await verifyWebhook({ payload: body, headers: theirs, secret, now }), samplePayload);
});

test('a changed body, id or timestamp, or another secret, fails as invalid_signature', async () => {
  const headers = signed();
  await refused({ payload: body.replace('"percent":50', '"percent":51'), headers, secret, now }, 'invalid_signature');
  await refused({ payload: body, headers: { ...headers, 'webhook-id': 'msg_other' }, secret, now }, 'invalid_signature');
  await refused({ payload: body, headers: { ...headers, 'webhook-timestamp': String(nowSeconds + 1) }, secret, now }, 'invalid_signature');
  await refused({ payload: body, headers, secret: newSecret(), now }, 'invalid_signature');
  await refused({ payload: body, headers: { ...headers, 'webhook-signature': 'v1a,' + headers['webhook-signature'].slice(3) }, secret, now }, 'invalid_signature');
  await refused({ payload: body, headers: { ...headers, 'webhook-signature': 'v1,not base64 at all' }, secret, now }, 'invalid_signature');
});

test('the replay window: older or newer than the tolerance is refused, within it passes', async () => {
  await refused({ payload: body, headers: signed({ timestamp: nowSeconds - 301 }), secret, now }, 'timestamp_too_old');
  await refused({ payload: body, headers: signed({ timestamp: nowSeconds + 301 }), secret, now }, 'timestamp_too_new');
  assert.deepEqual(await verifyWebhook({ payload: body, headers: signed({ timestamp: nowSeconds - 300 }), secret, now }), samplePayload);
  await refused({ payload: body, headers: signed({ timestamp: nowSeconds - 61 }), secret, now, toleranceSeconds: 60 }, 'timestamp_too_old');
  assert.deepEqual(await verifyWebhook({ payload: body, headers: signed({ timestamp: nowSeconds - 60 }), secret, now, toleranceSeconds: 60 }), samplePayload);
});

test('missing headers and a malformed timestamp are refused before any signature is computed', async () => {
  const headers = signed();
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _dropped, ...rest } = headers;
    await refused({ payload: body, headers: rest, secret, now }, 'missing_headers');
  }
  await refused({ payload: body, headers: { ...headers, 'webhook-timestamp': '1.5e9' }, secret, now }, 'invalid_timestamp');
});

test('secret rotation: any one of several signatures, or of several secrets, is enough', async () => {
  const old = newSecret();
  const rotating = signed({ secrets: [secret, old] });
  assert.equal(rotating['webhook-signature'].split(' ').length, 2);
  assert.deepEqual(await verifyWebhook({ payload: body, headers: rotating, secret: old, now }), samplePayload);
  assert.deepEqual(await verifyWebhook({ payload: body, headers: rotating, secret, now }), samplePayload);
  assert.deepEqual(await verifyWebhook({ payload: body, headers: signed({ secrets: old }), secret: [secret, old], now }), samplePayload);
});

test('a correctly signed body that is not a Curator payload is invalid_payload', async () => {
  const other = JSON.stringify({ type: 'user.created', timestamp: now.toISOString(), data: {} });
  await refused({ payload: other, headers: signWebhook({ id: 'msg_1', timestamp: nowSeconds, body: other }, secret), secret, now }, 'invalid_payload');
  // The signature itself is right: the reference library (its window fixed around the real clock) accepts it.
  assert.deepEqual(new Webhook(secret).verify(other, { ...signWebhook({ id: 'msg_1', timestamp: Math.floor(Date.now() / 1000), body: other }, secret) }), JSON.parse(other));
});

test('secrets: whsec_ + base64 of 24..64 bytes; problems never repeat the secret', () => {
  assert.equal(webhookSecretProblem(secret), null);
  assert.match(webhookSecretProblem(secret.slice(6)) ?? '', /whsec_/);
  assert.match(webhookSecretProblem(`whsec_${randomBytes(16).toString('base64')}`) ?? '', /24 to 64 bytes/);
  assert.match(webhookSecretProblem(`whsec_${randomBytes(65).toString('base64')}`) ?? '', /24 to 64 bytes/);
  assert.match(webhookSecretProblem('whsec_not*base64') ?? '', /base64/);
  assert.throws(() => signWebhook({ id: 'msg_1', timestamp: 1, body }, 'whsec_short'), (error: Error) => error instanceof TypeError && !error.message.includes('whsec_short'));
});

test('ids with a dot and non-integer timestamps are refused when signing', () => {
  assert.throws(() => signWebhook({ id: 'msg.1', timestamp: nowSeconds, body }, secret), TypeError);
  assert.throws(() => signWebhook({ id: 'msg_1', timestamp: 1.5, body }, secret), TypeError);
});
