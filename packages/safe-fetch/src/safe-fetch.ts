import { lookup as systemLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, buildConnector, request } from 'undici';
import { CuratorError } from '@curator/contracts';
import { canonicalAddress, isPublicAddress } from './address-policy.ts';

/** Name resolution as the fetcher sees it: every address a host name has. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;
export interface ResolvedAddress {
  address: string;
  family: number;
}

/**
 * The rules every outgoing request to a user-supplied URL obeys (article pages, webhooks): where it may
 * connect, on which ports, how many redirects, and for how long.
 */
export interface NetworkPolicy {
  /** The whole exchange: connecting, every redirect hop, headers and reading the body. */
  timeoutMs: number;
  maxRedirects: number;
  /** Ports public hosts may be reached on. Default `[80, 443]`. */
  allowedPorts?: readonly number[];
  /** Lets tests reach loopback and private addresses, on any port. Never in production. */
  allowPrivate?: boolean;
  /**
   * Exact addresses classified as public although their range is not. Tests use a second loopback
   * address (127.0.0.2) as the "public" host while 127.0.0.1 stays private. Narrower than allowPrivate.
   */
  allowedAddresses?: readonly string[];
  /** Default: the system resolver (`dns.lookup`, all addresses), as every other program on the host. */
  resolveHost?: HostResolver;
}

export const defaultAllowedPorts: readonly number[] = Object.freeze([80, 443]);

export interface SafeFetchInit {
  method?: string;
  headers?: Record<string, string>;
  /** Kept in memory so a 307/308 redirect can send it again. */
  body?: string | Uint8Array;
  /** Aborting fails the request with `canceled`. */
  signal?: AbortSignal;
}

export interface SafeResponse {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Redirects followed. */
  redirects: number;
  /**
   * The body, decompressed (gzip, deflate, br), at most `maxBytes` of it: `fetch_too_large` past that
   * (counted after decompression, so a small gzip bomb cannot blow up memory), `fetch_timeout` past the
   * policy's deadline. Closes the connection.
   */
  read(maxBytes: number): Promise<Buffer>;
  /** Drops the body unread and closes the connection. Call it when the body is not read. */
  discard(): void;
}

/** Raised inside the connector; recognised again when undici hands it back. Says nothing of the address. */
class BlockedAddressError extends Error {
  constructor() {
    super('the address is blocked');
    this.name = 'BlockedAddressError';
  }
}

type AddressPolicy = (address: string) => boolean;

function addressPolicy(policy: NetworkPolicy): AddressPolicy {
  if (policy.allowPrivate) return () => true;
  const allowed = new Set((policy.allowedAddresses ?? []).map(canonicalAddress));
  return (address) => isPublicAddress(address) || allowed.has(canonicalAddress(address));
}

const systemResolver: HostResolver = (hostname) => systemLookup(hostname, { all: true });

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `dns.lookup` for net.connect that refuses a name when ANY of its addresses may not be connected to,
 * so a record set mixing a public and a private address cannot slip through on a later attempt. It runs
 * at connect time for every new connection, redirect hops included, so a name that resolves differently
 * the second time (DNS rebinding) is judged on the address actually used.
 */
function checkingLookup(resolveHost: HostResolver, mayConnect: AddressPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolveHost(hostname).then(
      (resolved) => {
        const addresses = resolved.filter((entry) => !options.family || entry.family === options.family).map((entry) => ({ address: entry.address, family: entry.family }));
        if (addresses.some((entry) => !mayConnect(entry.address))) return callback(new BlockedAddressError(), []);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), []);
        if (options.all) return callback(null, addresses);
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

/**
 * undici connector with three checks: IP-literal hosts are judged before any packet is sent (net.connect
 * skips the lookup for them), names go through checkingLookup, and the socket's remote address is judged
 * once more after connecting, as a last line should a lookup ever be bypassed.
 */
function checkingConnector(policy: NetworkPolicy, mayConnect: AddressPolicy): buildConnector.connector {
  const connect = buildConnector({ lookup: checkingLookup(policy.resolveHost ?? systemResolver, mayConnect) as never, timeout: policy.timeoutMs, allowH2: false });
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && !mayConnect(host)) return callback(new BlockedAddressError(), null);
    connect(options, (error, socket) => {
      if (error) return callback(error, null);
      const remote = (socket as Socket).remoteAddress;
      if (!remote || !mayConnect(remote)) {
        socket.destroy();
        return callback(new BlockedAddressError(), null);
      }
      callback(null, socket);
    });
  };
}

function findBlocked(error: unknown): BlockedAddressError | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof BlockedAddressError) return current;
    if (current instanceof AggregateError) {
      const inner = current.errors.map(findBlocked).find(Boolean);
      if (inner) return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Scheme, credentials and port rules, applied to the first URL and to every redirect target. */
function checkedUrl(raw: string, policy: NetworkPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CuratorError('bad_input', `Not a valid URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CuratorError('fetch_blocked', `Only http and https URLs may be fetched, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new CuratorError('fetch_blocked', 'URLs with credentials are not fetched');
  const allowedPorts = policy.allowedPorts ?? defaultAllowedPorts;
  if (!policy.allowPrivate && !allowedPorts.includes(effectivePort(url))) {
    throw new CuratorError('fetch_blocked', `Refused to fetch ${url.href}: port ${effectivePort(url)} is blocked (allowed: ${allowedPorts.join(', ')})`);
  }
  return url;
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function decompressed(body: Readable, encoding: string | undefined): Readable {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return pipeline(body, createGunzip(), () => {});
    case 'deflate':
      return pipeline(body, createInflate(), () => {});
    case 'br':
      return pipeline(body, createBrotliDecompress(), () => {});
    default:
      return body;
  }
}

/** Drops a body we will not read; undici reports the abort as an error nobody needs. */
function destroyQuietly(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

async function readLimited(stream: Readable, maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      total += buffer.byteLength;
      if (total > maxBytes) throw new CuratorError('fetch_too_large', `${url} is larger than the ${maxBytes} byte limit`);
      chunks.push(buffer);
    }
  } finally {
    destroyQuietly(stream);
  }
  return Buffer.concat(chunks, total);
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
/** Headers that carry the caller's identity: not sent on to another origin. */
const credentialHeaders = ['authorization', 'cookie', 'proxy-authorization'];

interface Hop {
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

/** The request a redirect leads to, as the Fetch standard and browsers do it. */
function redirectedHop(hop: Hop, status: number, from: URL, to: URL): Hop {
  let { method, headers, body } = hop;
  if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
    method = 'GET';
    body = undefined;
    headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-/i.test(name)));
  }
  if (from.origin !== to.origin) {
    headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !credentialHeaders.includes(name.toLowerCase())));
  }
  return { method, headers, body };
}

/**
 * An HTTP request to a URL someone else chose, unable to reach what they must not: only http(s), no
 * credentials in URLs, public hosts only on the allowed ports, every connection (redirect hops included)
 * judged on the address it actually connects to, redirects followed by hand up to the limit, one deadline
 * for all of it. Fails with CuratorError: `fetch_blocked` (never naming the address a name resolved to:
 * that is our network's business), `fetch_timeout`, `fetch_failed`, `canceled`, `bad_input`.
 * Answers with any status (4xx/5xx are the caller's to judge); the caller reads or discards the body.
 */
export async function safeFetch(url: string | URL, init: SafeFetchInit, policy: NetworkPolicy): Promise<SafeResponse> {
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  const signal = init.signal ? AbortSignal.any([deadline, init.signal]) : deadline;
  const agent = new Agent({
    connect: checkingConnector(policy, addressPolicy(policy)),
    headersTimeout: policy.timeoutMs,
    bodyTimeout: policy.timeoutMs,
  });
  const closeAgent = () => void agent.destroy().catch(() => {});
  const failure = (error: unknown, at: string) => fetchError(error, at, { deadline, caller: init.signal, timeoutMs: policy.timeoutMs });
  let current = checkedUrl(String(url), policy);
  let hop: Hop = { method: (init.method ?? 'GET').toUpperCase(), headers: { ...init.headers }, body: init.body };
  try {
    for (let redirects = 0; ; redirects++) {
      const { statusCode, headers, body } = await request(current, { dispatcher: agent, method: hop.method as 'GET', headers: hop.headers, body: hop.body ?? null, signal });
      const location = headerValue(headers, 'location');
      if (redirectStatuses.has(statusCode) && location) {
        destroyQuietly(body);
        if (redirects >= policy.maxRedirects) {
          throw new CuratorError('fetch_failed', `${String(url)} redirected more than ${policy.maxRedirects} times`);
        }
        const next = URL.parse(location, current);
        if (!next) throw new CuratorError('fetch_failed', `${current.href} redirected to an invalid URL: ${location}`);
        const target = checkedUrl(next.href, policy);
        hop = redirectedHop(hop, statusCode, current, target);
        current = target;
        continue;
      }
      const answeredBy = current.href;
      body.once('close', closeAgent);
      return {
        url: answeredBy,
        status: statusCode,
        headers,
        redirects,
        read: async (maxBytes) => {
          try {
            return await readLimited(decompressed(body, headerValue(headers, 'content-encoding')), maxBytes, answeredBy);
          } catch (error) {
            throw failure(error, answeredBy);
          } finally {
            closeAgent();
          }
        },
        discard: () => {
          destroyQuietly(body);
          closeAgent();
        },
      };
    }
  } catch (error) {
    closeAgent();
    throw failure(error, current.href);
  }
}

/** What a network error is called in a job's error: the code and a plain phrase, never an address. */
const networkFailures: Record<string, { says: string; retryable: boolean }> = {
  ECONNREFUSED: { says: 'the connection was refused', retryable: true },
  ECONNRESET: { says: 'the connection was reset', retryable: true },
  EPIPE: { says: 'the connection was closed', retryable: true },
  UND_ERR_SOCKET: { says: 'the connection closed unexpectedly', retryable: true },
  EHOSTUNREACH: { says: 'the host is unreachable', retryable: true },
  ENETUNREACH: { says: 'the network is unreachable', retryable: true },
  EAI_AGAIN: { says: 'the host name could not be resolved now', retryable: true },
  // The name does not exist: asking again within the job's retries will not change that.
  ENOTFOUND: { says: 'the host name does not resolve', retryable: false },
};

function fetchError(error: unknown, url: string, signals: { deadline: AbortSignal; caller: AbortSignal | undefined; timeoutMs: number }): CuratorError {
  if (error instanceof CuratorError) return error;
  if (findBlocked(error)) return new CuratorError('fetch_blocked', `Refused to fetch ${url}: the address is blocked`, { cause: error });
  if (signals.caller?.aborted) return new CuratorError('canceled', `Fetching ${url} was canceled`, { cause: error });
  const code = (error as { code?: string } | undefined)?.code;
  if (signals.deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    // Not retried: a URL that took the whole budget now will very likely take it again a few seconds
    // later, and each attempt holds a worker slot for the full timeout.
    return new CuratorError('fetch_timeout', `Fetching ${url} took longer than ${signals.timeoutMs} ms`, { retryable: false, cause: error });
  }
  const known = code ? networkFailures[code] : undefined;
  if (known) return new CuratorError('fetch_failed', `Could not fetch ${url}: ${known.says} (${code})`, { retryable: known.retryable, cause: error });
  if (code?.startsWith('ERR_TLS') || /CERT|SSL/.test(code ?? '')) {
    return new CuratorError('fetch_failed', `Could not fetch ${url}: its TLS certificate was not accepted (${code})`, { cause: error });
  }
  return new CuratorError('fetch_failed', `Could not fetch ${url}: network error (${code ?? (error as Error)?.name ?? 'unknown'})`, { retryable: true, cause: error });
}
