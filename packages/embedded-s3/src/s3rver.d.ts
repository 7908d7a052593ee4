// @20minutes/s3rver ships no types; this covers the part Curator uses.
declare module '@20minutes/s3rver' {
  import type { AddressInfo } from 'node:net';
  import type { Server } from 'node:http';

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
    resetOnClose?: boolean;
    /** Off by default: SigV2 and SigV4 signatures (headers and presigned URLs) are verified. */
    allowMismatchedSignatures?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The part of Koa's context the middleware in @curator/embedded-s3 uses. */
  export interface KoaContext {
    req: import('node:http').IncomingMessage;
    path: string;
    status: number;
    type: string;
    body: unknown;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware list (S3rver is a Koa application), composed when the server starts listening. */
    middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
    httpServer: Server | undefined;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
