import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** What a URL is signed with (a session token when the credentials are temporary). */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Where an object's GET URL points: the endpoint S3's rules chose for the bucket, and the SigV4 scope. */
export interface SigningTarget {
  /** `http:` or `https:`. */
  protocol: string;
  /** hostname, with `:port` when the endpoint names one: the one signed header. */
  host: string;
  /** The bucket's path on that host (`/bucket` path-style, empty virtual-hosted), without a trailing slash. */
  basePath: string;
  region: string;
  service: string;
}

/** The most a SigV4 presigned URL may live (S3 refuses longer). */
const maxPresignSeconds = 7 * 24 * 3600;

/** encodeURIComponent plus the characters it leaves that SigV4 (RFC 3986) escapes. */
function escapeUri(value: string): string {
  const encoded = encodeURIComponent(value);
  return reserved.test(encoded) ? encoded.replace(reservedAll, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}
const reserved = /[!'()*]/;
const reservedAll = /[!'()*]/g;

/** An object key in a URL path, as S3's serializer writes a `{Key+}` label: each segment escaped, slashes kept. */
function keyPath(key: string): string {
  return key.split('/').map(escapeUri).join('/');
}

/**
 * Presigns S3 GET URLs with AWS Signature Version 4 in the query string, as the AWS SDK's `getSignedUrl` does for a
 * `GetObjectCommand` (the same query parameters in the same order, `UNSIGNED-PAYLOAD`, `host` the only signed header), byte for byte:
 * `test/storage.test.ts` compares the two. The day's signing key is kept as a `KeyObject`, so a URL costs one SHA-256
 * and one HMAC; the SDK's signer, also with its signing key cached, spends most of a URL on creating HMACs from raw
 * keys (its cache key is itself an HMAC) and on its promise chain.
 */
export class GetUrlSigner {
  private readonly target: SigningTarget;
  private signingKey: { id: string; key: KeyObject } | null = null;

  constructor(target: SigningTarget) {
    this.target = target;
  }

  sign(objectKey: string, expiresSeconds: number, signingDate: Date, credentials: SigningCredentials): string {
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > maxPresignSeconds) {
      throw new Error(`a presigned URL lives 1 to ${maxPresignSeconds} seconds, not ${expiresSeconds}`);
    }
    const { protocol, host, basePath, region, service } = this.target;
    const longDate = signingDate.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
    const shortDate = longDate.slice(0, 8);
    const scope = `${shortDate}/${region}/${service}/aws4_request`;
    const path = `${basePath}/${keyPath(objectKey)}`;
    // The query, sorted by name as SigV4 requires (upper case before lower case); the signature takes its place
    // among the others in the URL but is not part of what is signed. The names need no escaping.
    const head =
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=${escapeUri(`${credentials.accessKeyId}/${scope}`)}` +
      `&X-Amz-Date=${longDate}&X-Amz-Expires=${expiresSeconds}${credentials.sessionToken ? `&X-Amz-Security-Token=${escapeUri(credentials.sessionToken)}` : ''}`;
    // `x-id`: the operation's name, as the SDK's GetObject request carries it.
    const tail = 'X-Amz-SignedHeaders=host&x-id=GetObject';
    const canonicalRequest = `GET\n${path}\n${head}&${tail}\nhost:${host}\n\nhost\nUNSIGNED-PAYLOAD`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.keyFor(credentials, shortDate)).update(stringToSign).digest('hex');
    return `${protocol}//${host}${path}?${head}&X-Amz-Signature=${signature}&${tail}`;
  }

  /** The day's signing key (HMAC chain over date, region, service), made once per day and credentials. */
  private keyFor(credentials: SigningCredentials, shortDate: string): KeyObject {
    const { region, service } = this.target;
    const id = `${shortDate}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`;
    if (this.signingKey?.id === id) return this.signingKey.key;
    let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`, 'utf8');
    for (const part of [shortDate, region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    this.signingKey = { id, key: createSecretKey(key) };
    return this.signingKey.key;
  }
}
