import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';
import { Agent, buildConnector, request } from 'undici';
import htmlEncodingSniffer from 'html-encoding-sniffer';
import { CuratorError } from '@curator/contracts';
import { addressRange, canonicalAddress, isPublicAddress } from './address-policy.ts';

export interface FetchOptions {
  /** Whole fetch, redirects and body included. */
  timeoutMs: number;
  /** Decoded body bytes; reading stops past this. */
  maxBytes: number;
  maxRedirects: number;
  /** Let tests reach 127.0.0.1 and friends. Never in production. */
  allowPrivate?: boolean;
  /**
   * Exact addresses to treat as public although their range is not (tests use a second loopback address
   * as the "public" host while 127.0.0.1 stays private). Narrower than allowPrivate.
   */
  allowedAddresses?: readonly string[];
  userAgent?: string;
}

export interface FetchedPage {
  url: string;
  finalUrl: string;
  status: number;
  /** Media type without parameters, lower case, e.g. `text/html`. */
  contentType: string;
  /** The encoding the body was decoded with. */
  charset?: string;
  body: string;
}

export const acceptedContentTypes = ['text/html', 'application/xhtml+xml', 'text/plain'] as const;
const defaultUserAgent = 'CuratorBot/0.1 (+https://github.com/curator; article fetcher)';

/** Raised inside the connector; recognised again when undici hands it back. */
class BlockedAddressError extends Error {
  readonly host: string;
  readonly address: string;
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address} (${addressRange(address)}), which article fetches may not reach`);
    this.name = 'BlockedAddressError';
    this.host = host;
    this.address = address;
  }
}

type AddressPolicy = (address: string) => boolean;

function addressPolicy(allowedAddresses: readonly string[] = []): AddressPolicy {
  const allowed = new Set(allowedAddresses.map(canonicalAddress));
  return (address) => isPublicAddress(address) || allowed.has(canonicalAddress(address));
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup that refuses a name when ANY of its addresses is not public, so a record set mixing
 * a public and a private address cannot be used to slip through on a later connection attempt.
 * It runs at connect time for every connection, so a name that re-resolves differently (DNS rebinding)
 * is judged on the address actually used.
 */
function guardedLookup(mayConnect: AddressPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find((entry) => !mayConnect(entry.address));
      if (refused) return callback(new BlockedAddressError(hostname, refused.address), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * undici connector with three checks: IP-literal hosts are judged before any packet is sent (net.connect
 * skips lookup for them), names go through guardedLookup, and the socket's remote address is judged
 * once more after connecting, as a last line should a lookup ever be bypassed.
 */
function guardedConnector(timeoutMs: number, mayConnect: AddressPolicy): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(mayConnect) as never, timeout: timeoutMs, allowH2: false });
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && !mayConnect(host)) return callback(new BlockedAddressError(host, host), null);
    connect(options, (error, socket) => {
      if (error) return callback(error, null);
      const remote = (socket as Socket).remoteAddress;
      if (!remote || !mayConnect(remote)) {
        socket.destroy();
        return callback(new BlockedAddressError(host, remote ?? 'unknown'), null);
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

function parseUrl(raw: string): URL {
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
  return url;
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseContentType(header: string | undefined): { mediaType: string; charset?: string } {
  if (!header) return { mediaType: '' };
  const [type = '', ...params] = header.split(';');
  const charsetParam = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('charset='));
  const charset = charsetParam?.slice('charset='.length).trim().replace(/^"|"$/g, '') || undefined;
  return charset ? { mediaType: type.trim().toLowerCase(), charset } : { mediaType: type.trim().toLowerCase() };
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

/** Drops a response body we will not read; undici reports the abort as an error nobody needs. */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads at most maxBytes (after decompression, so a small gzip bomb cannot blow up memory). */
async function readLimited(stream: Readable, maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      total += buffer.byteLength;
      if (total > maxBytes) {
        throw new CuratorError('fetch_too_large', `${url} is larger than the ${maxBytes} byte limit`);
      }
      chunks.push(buffer);
    }
  } finally {
    discard(stream);
  }
  return Buffer.concat(chunks, total);
}

function decode(bytes: Buffer, mediaType: string, headerCharset: string | undefined): { text: string; charset: string } {
  const sniffed =
    mediaType === 'text/plain'
      ? (headerCharset ?? 'UTF-8')
      : htmlEncodingSniffer(bytes, { transportLayerEncodingLabel: headerCharset, defaultEncoding: 'UTF-8', xml: mediaType === 'application/xhtml+xml' });
  try {
    return { text: new TextDecoder(sniffed).decode(bytes), charset: sniffed.toLowerCase() };
  } catch {
    return { text: new TextDecoder('utf-8').decode(bytes), charset: 'utf-8' };
  }
}

/**
 * Fetches a web page for article extraction without letting the URL reach private networks: every
 * connection (redirect hops included) is checked on the address it actually connects to.
 */
export async function fetchPage(url: string, options: FetchOptions): Promise<FetchedPage> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const agent = new Agent({
    connect: options.allowPrivate
      ? { timeout: options.timeoutMs, allowH2: false }
      : guardedConnector(options.timeoutMs, addressPolicy(options.allowedAddresses)),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  let current = parseUrl(url);
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await request(current, {
        dispatcher: agent,
        method: 'GET',
        signal: deadline,
        headers: {
          'user-agent': options.userAgent ?? defaultUserAgent,
          accept: 'text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8',
          'accept-encoding': 'gzip, deflate, br',
        },
      });
      const { statusCode, headers, body } = response;

      if (statusCode >= 300 && statusCode < 400 && statusCode !== 304) {
        discard(body);
        const location = headerValue(headers, 'location');
        if (!location) throw new CuratorError('fetch_failed', `${current.href} answered ${statusCode} without a Location`);
        if (redirects >= options.maxRedirects) {
          throw new CuratorError('fetch_failed', `${url} redirected more than ${options.maxRedirects} times`);
        }
        const next = URL.parse(location, current);
        if (!next) throw new CuratorError('fetch_failed', `${current.href} redirected to an invalid URL: ${location}`);
        current = parseUrl(next.href);
        continue;
      }

      if (statusCode < 200 || statusCode >= 300) {
        discard(body);
        const retryable = statusCode >= 500 || statusCode === 429 || statusCode === 408;
        throw new CuratorError('fetch_failed', `${current.href} answered HTTP ${statusCode}`, { retryable });
      }

      const { mediaType, charset: headerCharset } = parseContentType(headerValue(headers, 'content-type'));
      if (!(acceptedContentTypes as readonly string[]).includes(mediaType)) {
        discard(body);
        throw new CuratorError('unsupported_content', `${current.href} is ${mediaType || 'of no declared type'}; only ${acceptedContentTypes.join(', ')} can be read`);
      }

      const declaredLength = Number(headerValue(headers, 'content-length'));
      if (Number.isFinite(declaredLength) && declaredLength > options.maxBytes) {
        discard(body);
        throw new CuratorError('fetch_too_large', `${current.href} declares ${declaredLength} bytes, over the ${options.maxBytes} byte limit`);
      }

      const bytes = await readLimited(decompressed(body, headerValue(headers, 'content-encoding')), options.maxBytes, current.href);
      const { text, charset } = decode(bytes, mediaType, headerCharset);
      return { url, finalUrl: current.href, status: statusCode, contentType: mediaType, charset, body: text };
    }
  } catch (error) {
    throw fetchError(error, current.href, deadline, options.timeoutMs);
  } finally {
    agent.destroy().catch(() => {});
  }
}

function fetchError(error: unknown, url: string, deadline: AbortSignal, timeoutMs: number): CuratorError {
  if (error instanceof CuratorError) return error;
  const blocked = findBlocked(error);
  if (blocked) return new CuratorError('fetch_blocked', `Refused to fetch ${url}: ${blocked.message}`, { cause: error });
  const code = (error as { code?: string } | undefined)?.code;
  if (deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new CuratorError('fetch_timeout', `Fetching ${url} took longer than ${timeoutMs} ms`, { retryable: true, cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new CuratorError('fetch_failed', `Could not fetch ${url}: ${code ? `${code} ` : ''}${reason}`, { retryable: true, cause: error });
}
