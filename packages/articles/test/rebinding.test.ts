// DNS rebinding: an attacker's name answers a public address to the lookup a naive fetcher validates, and
// an internal one to the lookup it then connects with. Curator's fetcher has no separate "validate" lookup:
// the address check sits inside the lookup net.connect uses, so every new connection (each redirect hop
// included) is judged on the very address it is about to connect to.
//
// The scenario, all on loopback (tests never send a packet elsewhere):
// - a tiny DNS server (UDP, 127.0.0.1, dns-packet) answers for `rebind.test` from a script of addresses;
// - the fetcher is pointed at it through the `resolveHost` option (production: the system resolver);
// - 127.0.0.2 plays the attacker's "public" server: `allowedAddresses` classifies it as public, while
//   127.0.0.1 keeps its real class, private, and hosts the "internal" service on the same port;
// - the public server answers the first request with a redirect to the same host name and closes the
//   connection (as an attacker would, so the next hop needs a new connection and a new lookup);
// - the second lookup answers 127.0.0.1: the fetcher refuses at connect time with `fetch_blocked`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decode, encode, AUTHORITATIVE_ANSWER, RECURSION_AVAILABLE, type Question } from 'dns-packet';
import { CuratorError } from '@curator/contracts';
import type { HostResolver } from '@curator/safe-fetch';
import { fetchPage, type FetchOptions } from '../src/index.ts';

interface ScriptedDns {
  port: number;
  /** Addresses to answer, one per query; the last one repeats. */
  script(addresses: string[]): void;
  /** What each query was answered since the last script(). */
  answered: string[];
  close(): Promise<void>;
}

async function scriptedDns(): Promise<ScriptedDns> {
  const socket: UdpSocket = createSocket('udp4');
  let addresses: string[] = ['127.0.0.2'];
  const answered: string[] = [];
  socket.on('message', (message, remote) => {
    const query = decode(message);
    const question = query.questions?.[0] as Question | undefined;
    if (!question) return;
    const address = addresses[Math.min(answered.length, addresses.length - 1)]!;
    const answers = question.type === 'A' && question.name === 'rebind.test' ? [{ type: 'A' as const, name: question.name, ttl: 0, data: address }] : [];
    if (answers.length > 0) answered.push(address);
    const response = encode({ type: 'response', id: query.id ?? 0, flags: AUTHORITATIVE_ANSWER | RECURSION_AVAILABLE, questions: [question], answers });
    socket.send(response, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    script(next) {
      addresses = next;
      answered.length = 0;
    },
    answered,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function resolverAt(dnsPort: number): HostResolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  return async (hostname) => (await resolver.resolve4(hostname)).map((address) => ({ address, family: 4 }));
}

interface Site {
  server: Server;
  hits: string[];
  connections(): number;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function site(handler: (url: string, port: number) => Answer): Site {
  const hits: string[] = [];
  let connections = 0;
  const server = createServer((request, response) => {
    hits.push(request.url ?? '');
    const answer = handler(request.url ?? '', (server.address() as AddressInfo).port);
    response.writeHead(answer.status, answer.headers).end(answer.body);
  });
  server.on('connection', () => connections++);
  return { server, hits, connections: () => connections };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('DNS rebinding', () => {
  let dns: ScriptedDns;
  let attacker: Site;
  let internal: Site;
  let port: number;
  let options: FetchOptions;

  before(async () => {
    dns = await scriptedDns();
    attacker = site((url, at): Answer =>
      url === '/start'
        ? { status: 302, headers: { location: `http://rebind.test:${at}/next`, connection: 'close' }, body: '' }
        : { status: 200, headers: { 'content-type': 'text/plain' }, body: 'public page' },
    );
    internal = site(() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'internal secret' }));
    // The same port on both addresses, so the redirect's URL fits either answer; retry if it is taken.
    for (let attempt = 0; ; attempt++) {
      await listen(attacker.server, '127.0.0.2', 0);
      port = (attacker.server.address() as AddressInfo).port;
      try {
        await listen(internal.server, '127.0.0.1', port);
        break;
      } catch (error) {
        await close(attacker.server);
        if (attempt === 10) throw error;
      }
    }
    options = { timeoutMs: 3000, maxBytes: 10_000, maxRedirects: 3, allowedAddresses: ['127.0.0.2'], allowedPorts: [port], resolveHost: resolverAt(dns.port) };
  });

  after(async () => {
    await close(attacker.server);
    await close(internal.server);
    await dns.close();
  });

  test('a name that keeps its public address is fetched, each new connection resolving it again', async () => {
    dns.script(['127.0.0.2']);
    const page = await fetchPage(`http://rebind.test:${port}/start`, options);
    assert.equal(page.body, 'public page');
    assert.equal(page.finalUrl, `http://rebind.test:${port}/next`);
    assert.deepEqual(dns.answered, ['127.0.0.2', '127.0.0.2']);
  });

  test('a name that rebinds to 127.0.0.1 for the redirect hop is refused at connect time', async () => {
    dns.script(['127.0.0.2', '127.0.0.1']);
    const hitsBefore = attacker.hits.length;
    await assert.rejects(fetchPage(`http://rebind.test:${port}/start`, options), (error: unknown) => {
      assert.ok(error instanceof CuratorError, String(error));
      assert.equal(error.code, 'fetch_blocked', error.message);
      assert.equal(error.message, `Refused to fetch http://rebind.test:${port}/next: the address is blocked`);
      return true;
    });
    assert.deepEqual(dns.answered, ['127.0.0.2', '127.0.0.1']);
    assert.deepEqual(attacker.hits.slice(hitsBefore), ['/start']);
    assert.equal(internal.connections(), 0, 'the internal service was connected to');
  });
});
