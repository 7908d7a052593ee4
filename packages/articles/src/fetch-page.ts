import htmlEncodingSniffer from 'html-encoding-sniffer';
import { CuratorError } from '@curator/contracts';
import { safeFetch, type NetworkPolicy } from '@curator/safe-fetch';

export interface FetchOptions extends NetworkPolicy {
  /** Decoded body bytes; reading stops past this. */
  maxBytes: number;
  userAgent?: string;
  /** Aborting (the job was canceled) fails the fetch with `canceled`. */
  signal?: AbortSignal;
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
 * Fetches a web page for article extraction with safeFetch's rules (no private networks, allowed ports
 * only, every hop checked at connect time): an HTML, XHTML or plain-text page of at most maxBytes,
 * decoded with its declared or sniffed charset.
 */
export async function fetchPage(url: string, options: FetchOptions): Promise<FetchedPage> {
  const response = await safeFetch(
    url,
    {
      headers: {
        'user-agent': options.userAgent ?? defaultUserAgent,
        accept: 'text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8',
        'accept-encoding': 'gzip, deflate, br',
      },
      ...(options.signal ? { signal: options.signal } : {}),
    },
    options,
  );
  const { status, headers } = response;
  if (status < 200 || status >= 300) {
    response.discard();
    const retryable = status >= 500 || status === 429 || status === 408;
    throw new CuratorError('fetch_failed', `${response.url} answered HTTP ${status}`, { retryable });
  }

  const { mediaType, charset: headerCharset } = parseContentType(headerValue(headers, 'content-type'));
  if (!(acceptedContentTypes as readonly string[]).includes(mediaType)) {
    response.discard();
    throw new CuratorError('unsupported_content', `${response.url} is ${mediaType || 'of no declared type'}; only ${acceptedContentTypes.join(', ')} can be read`);
  }

  const declaredLength = Number(headerValue(headers, 'content-length'));
  if (Number.isFinite(declaredLength) && declaredLength > options.maxBytes) {
    response.discard();
    throw new CuratorError('fetch_too_large', `${response.url} declares ${declaredLength} bytes, over the ${options.maxBytes} byte limit`);
  }

  const bytes = await response.read(options.maxBytes);
  const { text, charset } = decode(bytes, mediaType, headerCharset);
  return { url, finalUrl: response.url, status, contentType: mediaType, charset, body: text };
}
