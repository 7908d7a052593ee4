import type { Server } from 'node:http';
import S3rver, { type KoaContext } from '@20minutes/s3rver';
import { headerSignatureIsValid, parseAuthorization } from './bucket-signatures.ts';

/**
 * The one account the embedded server knows. Requests signed with another access key id are refused
 * (InvalidAccessKeyId), and SigV4 signatures, in headers and in presigned URLs, are checked against this secret.
 */
export const embeddedS3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface EmbeddedS3Options {
  /** Where objects are kept on disk (they survive a restart on the same directory). */
  directory: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Created before the server answers. */
  bucket?: string;
}

export interface EmbeddedS3 {
  endpoint: string;
  port: number;
  /** The listening HTTP server (tests use its `request` event to cut an upload off mid-transfer). */
  httpServer: Server;
  /** Stops listening and drops open connections, so clients see the outage at once. */
  close(): Promise<void>;
}

const signatureMismatch =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>';

/**
 * Requests for a bucket itself (`HEAD /bucket/`, `PUT /bucket/`) are checked here instead of by the server, whose
 * check drops the trailing slash the AWS SDK signs (so it refuses every correct one); a checked request goes on
 * unsigned, which the server serves. Object requests and presigned URLs keep the server's own check.
 */
async function checkBucketRequestSignature(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  const signature = parseAuthorization(String(ctx.req.headers.authorization ?? ''));
  // Another account's key: the server answers InvalidAccessKeyId itself.
  if (!signature || signature.accessKeyId !== embeddedS3Credentials.accessKeyId || !/^\/[^/]+\/$/.test(ctx.path)) return next();
  if (!(await headerSignatureIsValid({ method: ctx.req.method ?? 'GET', url: ctx.req.url ?? '/', headers: ctx.req.headers }, embeddedS3Credentials))) {
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body = signatureMismatch;
    return;
  }
  delete ctx.req.headers.authorization;
  return next();
}

function urlHost(address: string, family: string): string {
  return family === 'IPv6' || address.includes(':') ? `[${address}]` : address;
}

/** Runs an S3-compatible server (@20minutes/s3rver) inside this process, for `npm start` and tests. */
export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const server = new S3rver({
    address: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    configureBuckets: options.bucket ? [{ name: options.bucket }] : [],
  });
  server.middleware.unshift(checkBucketRequestSignature);
  const address = await server.run();
  const httpServer = server.httpServer;
  if (!httpServer) throw new Error('embedded S3 server did not start listening');
  let closed = false;
  return {
    endpoint: `http://${urlHost(address.address, address.family)}:${address.port}`,
    port: address.port,
    httpServer,
    async close() {
      if (closed) return;
      closed = true;
      const stopped = server.close();
      // Keep-alive sockets of S3 clients (and uploads in flight) would otherwise hold close() open.
      httpServer.closeAllConnections();
      await stopped;
    },
  };
}
