import S3rver from 's3rver';

/**
 * s3rver knows exactly one account, `S3RVER`/`S3RVER`. It rejects other access key ids
 * (InvalidAccessKeyId), but it does not verify SigV4 signatures, so the secret is never checked.
 */
export const embeddedS3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface EmbeddedS3Options {
  /** Where objects are kept on disk. */
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
  close(): Promise<void>;
}

/** Runs an S3-compatible server (s3rver) inside this process, for `npm start` and tests. */
export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const host = options.host ?? '127.0.0.1';
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    configureBuckets: options.bucket ? [{ name: options.bucket }] : [],
  });
  const address = await server.run();
  const urlHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  let closed = false;
  return {
    endpoint: `http://${urlHost}:${address.port}`,
    port: address.port,
    async close() {
      if (closed) return;
      closed = true;
      // Keep-alive sockets of S3 clients would otherwise hold close() open.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}
