import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CuratorError } from '@curator/contracts';
import { safeFetch, type NetworkPolicy } from '../src/index.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

async function listen(host: string, seen: Seen[], route: (url: string, origin: string) => Answer): Promise<{ server: Server; origin: string; port: number }> {
  let origin = '';
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', body, authorization: request.headers.authorization, contentType: request.headers['content-type'] });
      const answer = route(request.url ?? '', origin);
      response.writeHead(answer.status, answer.headers).end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://${host}:${port}`;
  return { server, origin, port };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

// Webhook-style use: 127.0.0.2 plays a public receiver, 127.0.0.3 another public origin.
describe('safeFetch for requests other than page fetches', () => {
  const seen: Seen[] = [];
  let receiver: { server: Server; origin: string; port: number };
  let elsewhere: { server: Server; origin: string; port: number };
  let policy: NetworkPolicy;

  before(async () => {
    elsewhere = await listen('127.0.0.3', seen, () => ({ status: 204 }));
    receiver = await listen('127.0.0.2', seen, (url): Answer => {
      switch (url) {
        case '/hook':
          return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
        case '/moved-307':
          return { status: 307, headers: { location: '/hook' } };
        case '/see-other':
          return { status: 303, headers: { location: '/hook' } };
        case '/elsewhere':
          return { status: 308, headers: { location: `${elsewhere.origin}/hook` } };
        case '/busy':
          return { status: 503, body: 'try later' };
        default:
          return { status: 404 };
      }
    });
    policy = { timeoutMs: 3000, maxRedirects: 2, allowedAddresses: ['127.0.0.2', '127.0.0.3'], allowedPorts: [receiver.port, elsewhere.port] };
  });

  after(async () => {
    await close(receiver.server);
    await close(elsewhere.server);
  });

  const post = { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer secret' }, body: '{"event":"completed"}' };

  test('POSTs a body and hands back status, headers and a readable body', async () => {
    seen.length = 0;
    const response = await safeFetch(`${receiver.origin}/hook`, post, policy);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.equal((await response.read(1024)).toString(), '{"ok":true}');
    assert.deepEqual(seen, [{ method: 'POST', url: '/hook', body: '{"event":"completed"}', authorization: 'Bearer secret', contentType: 'application/json' }]);
  });

  test('a 307 keeps the method and body; a 303 turns into a GET without them', async () => {
    seen.length = 0;
    const kept = await safeFetch(`${receiver.origin}/moved-307`, post, policy);
    kept.discard();
    assert.equal(kept.redirects, 1);
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body]), [['POST', '/moved-307', '{"event":"completed"}'], ['POST', '/hook', '{"event":"completed"}']]);

    seen.length = 0;
    const seeOther = await safeFetch(`${receiver.origin}/see-other`, post, policy);
    seeOther.discard();
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body, s.contentType]), [['POST', '/see-other', '{"event":"completed"}', 'application/json'], ['GET', '/hook', '', undefined]]);
  });

  test('credentials are not carried to another origin on a redirect', async () => {
    seen.length = 0;
    const response = await safeFetch(`${receiver.origin}/elsewhere`, post, policy);
    response.discard();
    assert.equal(response.status, 204);
    assert.equal(response.url, `${elsewhere.origin}/hook`);
    assert.deepEqual(seen.map((s) => [s.method, s.authorization]), [['POST', 'Bearer secret'], ['POST', undefined]]);
  });

  test('error statuses are answers, not failures: the caller judges them', async () => {
    const response = await safeFetch(`${receiver.origin}/busy`, post, policy);
    assert.equal(response.status, 503);
    assert.equal((await response.read(1024)).toString(), 'try later');
  });

  test('the same address and port rules as page fetches', async () => {
    const refused = (error: unknown) => error instanceof CuratorError && error.code === 'fetch_blocked' && !error.message.includes('127.0.0.1');
    await assert.rejects(safeFetch(`http://localhost:${receiver.port}/hook`, post, policy), refused);
    await assert.rejects(safeFetch(`${receiver.origin}/hook`, post, { ...policy, allowedPorts: undefined }), refused);
    await assert.rejects(safeFetch('file:///etc/passwd', post, policy), refused);
  });

  test('a body over the read limit is fetch_too_large', async () => {
    const response = await safeFetch(`${receiver.origin}/hook`, post, policy);
    await assert.rejects(response.read(4), (error: unknown) => error instanceof CuratorError && error.code === 'fetch_too_large');
  });
});
