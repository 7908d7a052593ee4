import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { CuratorError, type ErrorCode } from '@curator/contracts';
import { safeFetch } from '@curator/safe-fetch';
import { fetchPage, resolveArticle, type FetchOptions } from '../src/index.ts';

const newsPage = readFileSync(new URL('./fixtures/news-page.html', import.meta.url), 'utf8');

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface TestServer {
  origin: string;
  port: number;
  hits: string[];
  /** TCP connections accepted, requests or not. */
  connections(): number;
  close(): Promise<void>;
}

async function serve(host: string, handler: Handler): Promise<TestServer> {
  const hits: string[] = [];
  const server: Server = createServer((request, response) => {
    hits.push(request.url ?? '');
    handler(request, response);
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    port,
    hits,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function failsWith(code: ErrorCode, retryable?: boolean) {
  return (error: unknown) => {
    assert.ok(error instanceof CuratorError, `expected CuratorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (retryable !== undefined) assert.equal(error.retryable, retryable);
    return true;
  };
}

const base: FetchOptions = { timeoutMs: 3000, maxBytes: 200_000, maxRedirects: 3 };
const local: FetchOptions = { ...base, allowPrivate: true };

describe('fetchPage against local servers', () => {
  let site: TestServer;

  before(async () => {
    site = await serve('127.0.0.1', (request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/news/sea-wall':
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(newsPage);
          return;
        case '/gzipped':
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip' }).end(gzipSync(newsPage));
          return;
        case '/latin1':
          response.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' }).end(Buffer.from('Caf\xe9 cr\xe8me', 'latin1'));
          return;
        case '/meta-charset':
          response.writeHead(200, { 'content-type': 'text/html' }).end(Buffer.concat([Buffer.from('<html><head><meta charset="windows-1252"></head><body><p>'), Buffer.from([0x93, 0x68, 0x69, 0x94]), Buffer.from('</p></body></html>')]));
          return;
        case '/plain':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('  A plain\r\n\r\n\r\ntext   article. ');
          return;
        case '/image':
          response.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(64));
          return;
        case '/no-type':
          response.writeHead(200).end('<p>hi</p>');
          return;
        case '/huge-declared':
          response.writeHead(200, { 'content-type': 'text/html', 'content-length': String(10_000_000) });
          response.write('<p>'.padEnd(1000, 'x'));
          return; // never ends: the declared length alone must refuse it
        case '/huge-streamed': {
          // No content-length: the limit must be enforced while reading.
          response.writeHead(200, { 'content-type': 'text/html' });
          const chunk = Buffer.alloc(16_384, 'a');
          let sent = 0;
          const pump = () => {
            while (sent < 2_000_000 && !response.destroyed) {
              sent += chunk.length;
              if (!response.write(chunk)) return void response.once('drain', pump);
            }
            response.end();
          };
          pump();
          return;
        }
        case '/slow':
          response.writeHead(200, { 'content-type': 'text/html' });
          response.write('<html><body><p>first part');
          return; // the rest never comes
        case '/hang':
          return; // no headers at all
        case '/missing':
          response.writeHead(404, { 'content-type': 'text/html' }).end('nope');
          return;
        case '/broken':
          response.writeHead(503, { 'content-type': 'text/html' }).end('down');
          return;
        case '/loop': {
          const n = Number(url.searchParams.get('n') ?? '0');
          response.writeHead(302, { location: `/loop?n=${n + 1}` }).end();
          return;
        }
        case '/hop':
          response.writeHead(301, { location: '/news/sea-wall' }).end();
          return;
        case '/to-file':
          response.writeHead(302, { location: 'file:///etc/passwd' }).end();
          return;
        default:
          response.writeHead(404).end();
      }
    });
  });

  after(async () => {
    await site.close();
  });

  test('fetches an HTML page with allowPrivate', async () => {
    const page = await fetchPage(`${site.origin}/news/sea-wall`, local);
    assert.equal(page.status, 200);
    assert.equal(page.contentType, 'text/html');
    assert.equal(page.charset, 'utf-8');
    assert.equal(page.finalUrl, `${site.origin}/news/sea-wall`);
    assert.equal(page.body, newsPage);
  });

  test('127.0.0.1 and localhost are blocked by default, before any request reaches them', async () => {
    const hitsBefore = site.hits.length;
    const connectionsBefore = site.connections();
    // The test server's port is allowed, so it is the address that is refused.
    const guarded = { ...base, allowedPorts: [site.port] };
    await assert.rejects(fetchPage(`${site.origin}/news/sea-wall`, guarded), failsWith('fetch_blocked', false));
    await assert.rejects(fetchPage(`http://localhost:${site.port}/news/sea-wall`, guarded), failsWith('fetch_blocked', false));
    await assert.rejects(fetchPage(`http://[::ffff:127.0.0.1]:${site.port}/news/sea-wall`, guarded), failsWith('fetch_blocked', false));
    assert.equal(site.hits.length, hitsBefore);
    assert.equal(site.connections(), connectionsBefore, 'a blocked address was connected to');
  });

  test('a host name is judged on every address it resolves to', async () => {
    const byName = `http://localhost:${site.port}/news/sea-wall`;
    const page = await fetchPage(byName, { ...base, allowedAddresses: ['127.0.0.1', '::1'], allowedPorts: [site.port] });
    assert.equal(page.body, newsPage);
    await assert.rejects(fetchPage(byName, { ...base, allowedAddresses: ['127.0.0.2'], allowedPorts: [site.port] }), failsWith('fetch_blocked'));
  });

  test('a blocked fetch says "blocked" and never which address the name resolved to', async () => {
    const error = await fetchPage(`http://localhost:${site.port}/news/sea-wall`, { ...base, allowedPorts: [site.port] }).then(
      () => assert.fail('fetched'),
      (failure: unknown) => failure as CuratorError,
    );
    assert.equal(error.code, 'fetch_blocked');
    assert.equal(error.message, `Refused to fetch http://localhost:${site.port}/news/sea-wall: the address is blocked`);
  });

  test('public hosts are reached on the allowed ports only (80 and 443 by default), before connecting', async () => {
    const asPublic = { ...base, allowedAddresses: ['127.0.0.1'] };
    const connectionsBefore = site.connections();
    await assert.rejects(fetchPage(`${site.origin}/news/sea-wall`, asPublic), failsWith('fetch_blocked', false));
    await assert.rejects(fetchPage(`${site.origin}/news/sea-wall`, { ...asPublic, allowedPorts: [8443] }), (error: unknown) => {
      assert.ok(error instanceof CuratorError && error.code === 'fetch_blocked');
      assert.match(error.message, new RegExp(`port ${site.port} is blocked \\(allowed: 8443\\)`));
      return true;
    });
    assert.equal(site.connections(), connectionsBefore, 'a blocked port was connected to');
    assert.equal((await fetchPage(`${site.origin}/news/sea-wall`, { ...asPublic, allowedPorts: [80, 443, site.port] })).body, newsPage);
    // allowPrivate (tests only) lifts the port rule with the address rule.
    assert.equal((await fetchPage(`${site.origin}/news/sea-wall`, local)).body, newsPage);
  });

  test('a redirect to a port that is not allowed is blocked', async () => {
    const other = await serve('127.0.0.1', (_request, response) => void response.writeHead(200, { 'content-type': 'text/plain' }).end('other port'));
    const redirecting = await serve('127.0.0.1', (_request, response) => void response.writeHead(302, { location: `${other.origin}/x` }).end());
    try {
      const asPublic = { ...base, allowedAddresses: ['127.0.0.1'], allowedPorts: [redirecting.port] };
      await assert.rejects(fetchPage(`${redirecting.origin}/`, asPublic), failsWith('fetch_blocked'));
      assert.equal(other.connections(), 0);
      assert.equal((await fetchPage(`${redirecting.origin}/`, { ...asPublic, allowedPorts: [redirecting.port, other.port] })).body, 'other port');
    } finally {
      await other.close();
      await redirecting.close();
    }
  });

  test('only http and https URLs are fetched', async () => {
    await assert.rejects(fetchPage('file:///etc/passwd', local), failsWith('fetch_blocked'));
    await assert.rejects(fetchPage('ftp://example.com/a.html', local), failsWith('fetch_blocked'));
    await assert.rejects(fetchPage(`${site.origin}/to-file`, local), failsWith('fetch_blocked'));
  });

  test('follows redirects up to the limit and reports the final URL', async () => {
    const page = await fetchPage(`${site.origin}/hop`, local);
    assert.equal(page.finalUrl, `${site.origin}/news/sea-wall`);
    assert.equal(page.url, `${site.origin}/hop`);
  });

  test('too many redirects fail', async () => {
    const hitsBefore = site.hits.length;
    await assert.rejects(fetchPage(`${site.origin}/loop`, { ...local, maxRedirects: 2 }), failsWith('fetch_failed', false));
    // The first request and two redirects were followed, no more.
    assert.deepEqual(site.hits.slice(hitsBefore), ['/loop', '/loop?n=1', '/loop?n=2']);
  });

  test('decompresses gzip and decodes the declared or sniffed charset', async () => {
    assert.equal((await fetchPage(`${site.origin}/gzipped`, local)).body, newsPage);
    const latin1 = await fetchPage(`${site.origin}/latin1`, local);
    assert.equal(latin1.body, 'Café crème');
    const sniffed = await fetchPage(`${site.origin}/meta-charset`, local);
    assert.equal(sniffed.charset, 'windows-1252');
    assert.ok(sniffed.body.includes('<p>“hi”</p>'), sniffed.body);
  });

  test('a body over the limit is fetch_too_large, declared or streamed', async () => {
    await assert.rejects(fetchPage(`${site.origin}/huge-declared`, local), failsWith('fetch_too_large', false));
    await assert.rejects(fetchPage(`${site.origin}/huge-streamed`, { ...local, maxBytes: 50_000 }), failsWith('fetch_too_large', false));
  });

  test('a server that stops sending is fetch_timeout, not retried (it would hold a worker slot again)', async () => {
    await assert.rejects(fetchPage(`${site.origin}/slow`, { ...local, timeoutMs: 200 }), failsWith('fetch_timeout', false));
    await assert.rejects(fetchPage(`${site.origin}/hang`, { ...local, timeoutMs: 200 }), failsWith('fetch_timeout', false));
  });

  test('aborting the signal (a canceled job) fails the fetch with canceled', async () => {
    const cancel = new AbortController();
    const fetching = fetchPage(`${site.origin}/hang`, { ...local, signal: cancel.signal });
    setTimeout(() => cancel.abort(), 20);
    await assert.rejects(fetching, failsWith('canceled', false));
  });

  test('a name that does not resolve is fetch_failed, not retried', async () => {
    const resolveHost = async () => {
      throw Object.assign(new Error('queryA ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' });
    };
    await assert.rejects(fetchPage('http://nowhere.test/', { ...base, resolveHost }), failsWith('fetch_failed', false));
  });

  test('content other than HTML or text is unsupported_content', async () => {
    await assert.rejects(fetchPage(`${site.origin}/image`, local), failsWith('unsupported_content'));
    await assert.rejects(fetchPage(`${site.origin}/no-type`, local), failsWith('unsupported_content'));
  });

  test('HTTP errors are fetch_failed, retryable only for 5xx', async () => {
    await assert.rejects(fetchPage(`${site.origin}/missing`, local), failsWith('fetch_failed', false));
    await assert.rejects(fetchPage(`${site.origin}/broken`, local), failsWith('fetch_failed', true));
  });

  test('a refused connection is fetch_failed and retryable, and its message names no address', async () => {
    const gone = await serve('127.0.0.1', () => {});
    await gone.close();
    await assert.rejects(fetchPage(`http://localhost:${gone.port}/`, local), (error: unknown) => {
      failsWith('fetch_failed', true)(error);
      assert.equal((error as Error).message, `Could not fetch http://localhost:${gone.port}/: the connection was refused (ECONNREFUSED)`);
      return true;
    });
  });

  test('resolveArticle fetches and extracts the article, and passes text/plain through', async () => {
    const article = await resolveArticle({ url: `${site.origin}/hop` }, { fetch: local });
    assert.equal(article.source, 'url');
    assert.equal(article.url, `${site.origin}/news/sea-wall`);
    assert.equal(article.title, 'Harbour town votes to rebuild its flooded sea wall');
    assert.equal(article.byline, 'By Maria Okafor, Local Affairs Reporter');
    assert.ok(article.text.startsWith('Residents of Port Ellery voted on Tuesday'));
    assert.ok(!article.text.includes('COMMENT') && !article.text.includes('NAVLINK'));

    const plain = await resolveArticle({ url: `${site.origin}/plain` }, { fetch: local });
    assert.deepEqual(plain, { title: null, text: 'A plain\n\ntext article.', source: 'url', url: `${site.origin}/plain` });
  });
});

describe('redirects into private addresses', () => {
  // 127.0.0.2 stands in for a public host (allowedAddresses); 127.0.0.1 holds the "internal" service.
  let internal: TestServer;
  let publicSite: TestServer;
  let guarded: FetchOptions;

  before(async () => {
    internal = await serve('127.0.0.1', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret');
    });
    publicSite = await serve('127.0.0.2', (request, response) => {
      switch (request.url) {
        case '/page':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('public page');
          return;
        case '/to-localhost':
          response.writeHead(302, { location: `http://localhost:${internal.port}/secret` }).end();
          return;
        case '/to-literal':
          response.writeHead(302, { location: `http://127.0.0.1:${internal.port}/secret` }).end();
          return;
        case '/to-mapped':
          response.writeHead(302, { location: `http://[::ffff:7f00:1]:${internal.port}/secret` }).end();
          return;
        default:
          response.writeHead(404).end();
      }
    });
    // Both servers' ports are allowed, so what refuses the redirects is the address rule.
    guarded = { ...base, allowedAddresses: ['127.0.0.2'], allowedPorts: [publicSite.port, internal.port] };
  });

  after(async () => {
    await publicSite.close();
    await internal.close();
  });

  test('the allowed host itself can be fetched', async () => {
    const page = await fetchPage(`${publicSite.origin}/page`, guarded);
    assert.equal(page.body, 'public page');
  });

  test('with allowPrivate the redirects do reach the internal service', async () => {
    const page = await fetchPage(`${publicSite.origin}/to-literal`, local);
    assert.equal(page.body, 'internal secret');
    assert.equal((await fetchPage(`${publicSite.origin}/to-localhost`, local)).body, 'internal secret');
  });

  test('redirects to loopback by name, literal or mapped IPv6 are blocked before connecting', async () => {
    const connectionsBefore = internal.connections();
    await assert.rejects(fetchPage(`${publicSite.origin}/to-localhost`, guarded), failsWith('fetch_blocked'));
    await assert.rejects(fetchPage(`${publicSite.origin}/to-literal`, guarded), failsWith('fetch_blocked'));
    await assert.rejects(fetchPage(`${publicSite.origin}/to-mapped`, guarded), failsWith('fetch_blocked'));
    assert.equal(internal.connections(), connectionsBefore, 'the internal service was connected to');
  });
});
