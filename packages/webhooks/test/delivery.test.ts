import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { verifyWebhook } from '@curator/client';
import { attemptWebhook, webhookUserAgent, type AttemptResult, type WebhookAttempt } from '../src/index.ts';
import { samplePayload } from './support/payload.ts';

interface Received {
  url: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const received: Received[] = [];
const held: ServerResponse[] = [];
let server: Server;
let origin: string;
let port: number;
let closedPort: number;

/** Each path answers one way; the receiver keeps what it got. */
function answer(path: string, response: ServerResponse): void {
  switch (path) {
    case '/ok':
      return void response.writeHead(204).end();
    case '/boom':
      return void response.writeHead(500).end('internal trouble at 10.0.0.7');
    case '/busy':
      return void response.writeHead(503, { 'retry-after': '7' }).end();
    case '/slow-down':
      return void response.writeHead(429, { 'retry-after': '30' }).end();
    case '/gone':
      return void response.writeHead(410).end();
    case '/missing':
      return void response.writeHead(404).end();
    case '/moved':
      return void response.writeHead(302, { location: '/ok' }).end();
    case '/big':
      // A large answer is not read: the attempt ends at the status line.
      return void response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(8 * 1024 * 1024));
    case '/hang':
      return void held.push(response);
    default:
      return void response.writeHead(400).end();
  }
}

before(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ url: request.url ?? '', method: request.method ?? '', headers: request.headers, body });
      answer(request.url ?? '', response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  // A port nothing listens on: bound, then closed.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

after(async () => {
  for (const response of held) response.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const body = JSON.stringify(samplePayload);
const attempt = (path: string, overrides: Partial<WebhookAttempt> = {}): Promise<AttemptResult> =>
  attemptWebhook({ url: `${origin}${path}`, id: 'msg_test1', body, secrets: secret, network: { timeoutMs: 5000, allowPrivate: true }, ...overrides });
const hits = (path: string) => received.filter((r) => r.url === path).length;

test('a 2xx answer is a delivery: one signed POST the client helper verifies', async () => {
  received.length = 0;
  assert.deepEqual(await attempt('/ok'), { outcome: 'delivered', responseStatus: 204 });
  const [got] = received;
  assert.equal(got?.method, 'POST');
  assert.equal(got?.headers['content-type'], 'application/json');
  assert.equal(got?.headers['user-agent'], webhookUserAgent);
  assert.equal(got?.headers['webhook-id'], 'msg_test1');
  assert.equal(got?.body, body);
  assert.deepEqual(await verifyWebhook({ payload: got!.body, headers: got!.headers, secret }), samplePayload);
});

test('5xx and 429 are retried (Retry-After kept); the answer body is never shown', async () => {
  const boom = await attempt('/boom');
  assert.deepEqual(boom, { outcome: 'retry', responseStatus: 500, error: 'The receiver answered 500', retryAfterMs: null });
  assert.deepEqual(await attempt('/busy'), { outcome: 'retry', responseStatus: 503, error: 'The receiver answered 503', retryAfterMs: 7000 });
  assert.deepEqual(await attempt('/slow-down'), { outcome: 'retry', responseStatus: 429, error: 'The receiver answered 429', retryAfterMs: 30_000 });
});

test('other 4xx are not retried; 410 also stops the job\'s later messages', async () => {
  assert.deepEqual(await attempt('/gone'), { outcome: 'give-up', responseStatus: 410, error: 'The receiver answered 410 Gone: no more messages of this job are sent to it', gone: true });
  const missing = await attempt('/missing');
  assert.equal(missing.outcome, 'give-up');
  assert.equal(missing.responseStatus, 404);
  assert.equal(missing.outcome === 'give-up' && missing.gone, false);
});

test('a redirect is not followed: a failure, retried', async () => {
  received.length = 0;
  const moved = await attempt('/moved');
  assert.equal(moved.outcome, 'retry');
  assert.deepEqual(received.map((r) => r.url), ['/moved'], 'the redirect target was never requested');
});

test('a large answer is not read', async () => {
  assert.deepEqual(await attempt('/big'), { outcome: 'delivered', responseStatus: 200 });
});

test('no answer in time, or no listener, is retried', async () => {
  const slow = await attempt('/hang', { network: { timeoutMs: 300, allowPrivate: true } });
  assert.equal(slow.outcome, 'retry');
  assert.equal(slow.responseStatus, null);
  const refused = await attemptWebhook({ url: `http://127.0.0.1:${closedPort}/ok`, id: 'msg_test2', body, secrets: secret, network: { timeoutMs: 5000, allowPrivate: true } });
  assert.equal(refused.outcome, 'retry');
  assert.match(refused.outcome === 'retry' ? refused.error : '', /refused/);
});

test('a blocked address is given up before any connection, and the error never names what a name resolved to', async () => {
  received.length = 0;
  const literal = await attempt('/ok', { network: { timeoutMs: 5000, allowPrivate: false, allowedPorts: [port] } });
  assert.equal(literal.outcome, 'give-up');
  assert.equal(literal.responseStatus, null);
  // A public-looking name that resolves to loopback (DNS rebinding, a hostile record): refused at connect time.
  const resolveHost = async () => [{ address: '127.0.0.1', family: 4 }];
  const byName = await attemptWebhook({ url: `http://hooks.example.test:${port}/ok`, id: 'msg_test3', body, secrets: secret, network: { timeoutMs: 5000, allowPrivate: false, allowedPorts: [port], resolveHost } });
  assert.equal(byName.outcome, 'give-up');
  assert.doesNotMatch(byName.outcome === 'give-up' ? byName.error : '', /127\.0\.0\.1/);
  // A port outside the allowed ones, on a public-looking name.
  const port8443 = await attemptWebhook({ url: 'https://hooks.example.test:8443/ok', id: 'msg_test4', body, secrets: secret, network: { timeoutMs: 5000, allowPrivate: false, resolveHost } });
  assert.equal(port8443.outcome, 'give-up');
  assert.equal(received.length, 0, 'the receiver saw nothing');
});
