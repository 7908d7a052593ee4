import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook as verifyInBrowser, WebhookVerificationError as BrowserVerificationError } from '@curator/client';
import { samplePayload, now } from './support/payload.ts';
import { signWebhook, verifyWebhook, verifySignature, WebhookVerificationError, webhookSecretProblem, type WebhookVerificationReason } from '../src/index.ts';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const secret = newSecret();
const nowSeconds = Math.floor(now.getTime() / 1000);

const body = JSON.stringify(samplePayload);
const signed = (overrides: { id?: string; timestamp?: number; secrets?: string | string[] } = {}) =>
  signWebhook({ id: overrides.id ?? 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', timestamp: overrides.timestamp ?? nowSeconds, body }, overrides.secrets ?? secret);

const refusedFor = (reason: WebhookVerificationReason) => (error: unknown) => (error instanceof WebhookVerificationError || error instanceof BrowserVerificationError) && error.reason === reason;

/** Both verifiers (node:crypto here, Web Crypto in the client) must agree on every case. */
async function bothRefuse(input: Parameters<typeof verifyWebhook>[0], reason: WebhookVerificationReason): Promise<void> {
  assert.throws(() => verifyWebhook(input), refusedFor(reason), `server verifier: ${reason}`);
  await assert.rejects(verifyInBrowser(input), refusedFor(reason), `client verifier: ${reason}`);
}

test('a signed message verifies with both verifiers and gives back its payload', async () => {
  const headers = signed();
  assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.equal(headers['webhook-timestamp'], String(nowSeconds));
  assert.deepEqual(verifyWebhook({ payload: body, headers, secret, now }), samplePayload);
  assert.deepEqual(await verifyInBrowser({ payload: body, headers, secret, now }), samplePayload);
  // Raw bytes, a fetch Headers object and header names in any case work too.
  const fetchHeaders = new Headers(headers as unknown as Record<string, string>);
  assert.deepEqual(await verifyInBrowser({ payload: new TextEncoder().encode(body), headers: fetchHeaders, secret, now }), samplePayload);
  const shouting = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
  assert.deepEqual(verifyWebhook({ payload: Buffer.from(body), headers: shouting, secret, now }), samplePayload);
});

test('interoperates with the Standard Webhooks reference library, both ways', () => {
  const reference = new Webhook(secret);
  const ours = signed({ timestamp: Math.floor(Date.now() / 1000) });
  assert.deepEqual(reference.verify(body, { ...ours }), samplePayload);
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const theirs = { 'webhook-id': id, 'webhook-timestamp': String(nowSeconds), 'webhook-signature': reference.sign(id, now, body) };
  assert.equal(theirs['webhook-signature'], signed({ id })['webhook-signature']);
  assert.deepEqual(verifyWebhook({ payload: body, headers: theirs, secret, now }), samplePayload);
});

test('a changed body, id or timestamp, or another secret, fails as invalid_signature', async () => {
  const headers = signed();
  await bothRefuse({ payload: body.replace('"percent":50', '"percent":51'), headers, secret, now }, 'invalid_signature');
  await bothRefuse({ payload: body, headers: { ...headers, 'webhook-id': 'msg_other' }, secret, now }, 'invalid_signature');
  await bothRefuse({ payload: body, headers: { ...headers, 'webhook-timestamp': String(nowSeconds + 1) }, secret, now }, 'invalid_signature');
  await bothRefuse({ payload: body, headers, secret: newSecret(), now }, 'invalid_signature');
  await bothRefuse({ payload: body, headers: { ...headers, 'webhook-signature': 'v1a,' + headers['webhook-signature'].slice(3) }, secret, now }, 'invalid_signature');
  await bothRefuse({ payload: body, headers: { ...headers, 'webhook-signature': 'v1,not base64 at all' }, secret, now }, 'invalid_signature');
});

test('the replay window: older or newer than the tolerance is refused, within it passes', async () => {
  await bothRefuse({ payload: body, headers: signed({ timestamp: nowSeconds - 301 }), secret, now }, 'timestamp_too_old');
  await bothRefuse({ payload: body, headers: signed({ timestamp: nowSeconds + 301 }), secret, now }, 'timestamp_too_new');
  assert.deepEqual(verifyWebhook({ payload: body, headers: signed({ timestamp: nowSeconds - 300 }), secret, now }), samplePayload);
  await bothRefuse({ payload: body, headers: signed({ timestamp: nowSeconds - 61 }), secret, now, toleranceSeconds: 60 }, 'timestamp_too_old');
  assert.deepEqual(await verifyInBrowser({ payload: body, headers: signed({ timestamp: nowSeconds - 60 }), secret, now, toleranceSeconds: 60 }), samplePayload);
});

test('missing headers and a malformed timestamp are refused before any signature is computed', async () => {
  const headers = signed();
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _dropped, ...rest } = headers;
    await bothRefuse({ payload: body, headers: rest, secret, now }, 'missing_headers');
  }
  await bothRefuse({ payload: body, headers: { ...headers, 'webhook-timestamp': '1.5e9' }, secret, now }, 'invalid_timestamp');
});

test('secret rotation: any one of several signatures, or of several secrets, is enough', async () => {
  const old = newSecret();
  const rotating = signed({ secrets: [secret, old] });
  assert.equal(rotating['webhook-signature'].split(' ').length, 2);
  assert.deepEqual(verifyWebhook({ payload: body, headers: rotating, secret: old, now }), samplePayload);
  assert.deepEqual(await verifyInBrowser({ payload: body, headers: rotating, secret, now }), samplePayload);
  assert.deepEqual(await verifyInBrowser({ payload: body, headers: signed({ secrets: old }), secret: [secret, old], now }), samplePayload);
});

test('a correctly signed body that is not a Curator payload is invalid_payload', async () => {
  const other = JSON.stringify({ type: 'user.created', timestamp: now.toISOString(), data: {} });
  const headers = signWebhook({ id: 'msg_1', timestamp: nowSeconds, body: other }, secret);
  assert.doesNotThrow(() => verifySignature({ payload: other, headers, secret, now }));
  await bothRefuse({ payload: other, headers, secret, now }, 'invalid_payload');
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
