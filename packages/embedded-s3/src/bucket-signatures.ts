import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** SHA-256 (and HMAC-SHA-256 with a secret) in the shape the AWS signer expects, on node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): Uint8Array | string {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

class Sha256 {
  private hash: Hash | Hmac;
  private readonly secret: Uint8Array | string | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

interface HeaderSignature {
  accessKeyId: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export function parseAuthorization(value: string): HeaderSignature | undefined {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(value);
  if (!match) return undefined;
  const [, accessKeyId, region, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string];
  return { accessKeyId, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function parseAmzDate(value: string | undefined): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/**
 * Checks the SigV4 Authorization header of a request by signing the same request again with the AWS SDK's own
 * signer. The server's own check rebuilds the canonical path of a bucket request without the trailing slash that
 * current AWS SDKs sign (`PUT /bucket/`), and so refuses every correctly signed HeadBucket and CreateBucket.
 */
export async function headerSignatureIsValid(
  request: { method: string; url: string; headers: IncomingHttpHeaders },
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<boolean> {
  const authorization = parseAuthorization(String(request.headers.authorization ?? ''));
  const signingDate = parseAmzDate(request.headers['x-amz-date']?.toString());
  if (!authorization || !signingDate || authorization.accessKeyId !== credentials.accessKeyId) return false;
  const url = new URL(request.url, `http://${request.headers.host ?? 'localhost'}`);
  const headers: Record<string, string> = {};
  for (const name of authorization.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return false;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signer = new SignatureV4({ credentials, region: authorization.region, service: authorization.service, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign(
    { method: request.method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port) || undefined, path: url.pathname, query, headers },
    { signingDate, signableHeaders: new Set(authorization.signedHeaders) },
  );
  const expected = parseAuthorization(String(signed.headers['authorization'] ?? ''))?.signature ?? '';
  return expected.length === authorization.signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(authorization.signature));
}
