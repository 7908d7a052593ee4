import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { CuratorError } from '@curator/contracts';
import { isMissing, nameOf, storageError } from './errors.ts';
import { withRetry, type RetryPolicy, type StorageRetryEvent } from './retry.ts';
import { GetUrlSigner, type SigningCredentials } from './sigv4.ts';

export interface ObjectStorageOptions {
  /** Where this process reaches the store. Unset: AWS S3 itself. */
  endpoint?: string;
  /**
   * Where clients reach the store: presigned URLs name this host (default: `endpoint`). A SigV4 signature covers
   * the host, so a URL is signed for the host it names; only presigning uses it.
   */
  publicEndpoint?: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  /** Both unset: the AWS SDK default credential chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Whether `ensureBucket()` may create a missing bucket. */
  createBucket: boolean;
  presignExpiresSeconds: number;
  /**
   * How long put, get, head, exists and delete retry transient failures (connection refused or reset, timeouts,
   * 5xx, 429/SlowDown), with exponential backoff and jitter; default 60 000 ms, 0: one attempt.
   */
  retryWindowMs?: number;
  /** Told of every failure that will be retried, with its full cause: log it here, it never reaches a client. */
  onRetry?: (event: StorageRetryEvent) => void;
}

export interface StoredObject {
  key: string;
  bytes: number;
  etag: string;
}

export interface ObjectHead {
  bytes: number;
  contentType: string;
  metadata: Record<string, string>;
}

export interface PresignedUrl {
  url: string;
  /** ISO 8601. */
  expiresAt: string;
}

export interface StorageRequestOptions {
  /** Ends the retries, the wait between them and the request in flight (job canceled, worker stopping). */
  signal?: AbortSignal;
}

/**
 * Failures are `CuratorError`s whose messages name no host, address or port. `storage_unavailable` is retryable
 * when the store did not answer within the retry window, not when it refused (4xx). An aborted signal rejects with
 * its reason when that is a CuratorError, else with `canceled`.
 */
export interface ObjectStorage {
  readonly bucket: string;
  /** Creates the bucket when it is missing and creation is allowed (one attempt: startup fails fast). */
  ensureBucket(): Promise<void>;
  /** Holds `body` while it retries, so the caller never has to produce it again. */
  put(key: string, body: Buffer | Uint8Array, contentType: string, metadata?: Record<string, string>, options?: StorageRequestOptions): Promise<StoredObject>;
  /** Throws `not_found` when the key is missing. */
  get(key: string, options?: StorageRequestOptions): Promise<Buffer>;
  head(key: string, options?: StorageRequestOptions): Promise<ObjectHead | null>;
  exists(key: string, options?: StorageRequestOptions): Promise<boolean>;
  delete(key: string, options?: StorageRequestOptions): Promise<void>;
  /** A fresh URL on every call, for the public endpoint; `expiresSeconds` defaults to `presignExpiresSeconds`. */
  presignGet(key: string, expiresSeconds?: number): Promise<PresignedUrl>;
  /** Succeeds when the bucket answers; one attempt, for readiness probes. */
  ping(): Promise<void>;
  close(): void;
}

export const defaultRetryWindowMs = 60_000;

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

function clientConfig(options: ObjectStorageOptions, endpoint: string | undefined): S3ClientConfig {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    // One retry layer, ours: the SDK's shares a retry quota across requests, so a long outage made it give up
    // after a few seconds for every upload at once.
    maxAttempts: 1,
    // Since 3.729 the SDK sends streamed uploads with an aws-chunked CRC32 trailer by default; s3rver (and some
    // other S3-compatible servers) store the chunk framing as the object. Only checksum where S3 requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  };
  if (endpoint) config.endpoint = endpoint;
  if (options.accessKeyId && options.secretAccessKey) {
    config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  return config;
}

/**
 * Signs GET URLs for `Bucket`'s objects as the SDK's `getSignedUrl(client, new GetObjectCommand(...))` does, byte for
 * byte, without running the command's middleware stack (endpoint rules, checksums, retry, user agent) for every URL:
 * that was about 250 µs of CPU per URL, over half of a curate job's read. The endpoint (path-style or virtual-hosted
 * per `forcePathStyle` and the bucket's name, the client's endpoint, which is the public one when set) does not
 * depend on the key, so the client's endpoint rules are asked once; each URL is then that endpoint plus the key,
 * signed by `GetUrlSigner` with the client's credentials (the default chain's refresh as they expire). An endpoint
 * that wants another auth scheme than SigV4 (S3 Express, multi-region access points) keeps `getSignedUrl`.
 */
function urlSigner(client: S3Client, Bucket: string): (key: string, expiresSeconds: number, signingDate: Date) => Promise<string> {
  let prepared: Promise<GetUrlSigner | null> | null = null;
  const prepare = async () => {
    // The rules want a key among their inputs but do not use it (the SDK caches the endpoint per bucket, not per key).
    const endpoint = await getEndpointFromInstructions({ Bucket, Key: 'key' }, GetObjectCommand as never, client.config as never);
    const authScheme = endpoint.properties?.authSchemes?.[0] as { name?: string; signingName?: string; signingRegion?: string } | undefined;
    if (authScheme?.name !== 'sigv4' || !authScheme.signingRegion || endpoint.url.search || endpoint.url.username) return null;
    return new GetUrlSigner({
      protocol: endpoint.url.protocol,
      host: endpoint.url.host,
      basePath: endpoint.url.pathname.replace(/\/$/, ''),
      region: authScheme.signingRegion,
      service: authScheme.signingName ?? 's3',
    });
  };
  const credentials = client.config.credentials as unknown as () => Promise<SigningCredentials>;
  return async (key, expiresSeconds, signingDate) => {
    prepared ??= prepare().catch((error: unknown) => {
      prepared = null;
      throw error;
    });
    const signer = await prepared;
    if (!signer) return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: expiresSeconds, signingDate });
    const identity = await credentials();
    if (typeof identity?.accessKeyId !== 'string' || typeof identity.secretAccessKey !== 'string') throw new Error('no credentials to sign with');
    return signer.sign(key, expiresSeconds, signingDate, identity);
  };
}

export function createObjectStorage(options: ObjectStorageOptions): ObjectStorage {
  const client = new S3Client(clientConfig(options, options.endpoint));
  // Presigning makes no request: this client only computes signatures for the host clients will ask.
  const publicEndpoint = options.publicEndpoint ?? options.endpoint;
  const presigner = publicEndpoint === options.endpoint ? client : new S3Client(clientConfig(options, publicEndpoint));
  const signGet = urlSigner(presigner, options.bucket);
  const Bucket = options.bucket;
  const policy: RetryPolicy = { windowMs: options.retryWindowMs ?? defaultRetryWindowMs, onRetry: options.onRetry };
  const sendOptions = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});

  async function ensureBucket(): Promise<void> {
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
      return;
    } catch (error) {
      if (!isMissing(error)) throw storageError('HeadBucket', error);
    }
    if (!options.createBucket) {
      throw new CuratorError('storage_unavailable', `Bucket "${Bucket}" does not exist and S3_CREATE_BUCKET is off`);
    }
    try {
      await client.send(new CreateBucketCommand({ Bucket }));
    } catch (error) {
      // Another process (the gateway and a worker start together) created it between our HeadBucket and
      // CreateBucket. Stores say so differently (AWS: BucketAlreadyOwnedByYou; MinIO, s3rver: 409
      // BucketAlreadyExists, which on AWS means another account's), so the bucket itself decides: if we
      // can reach it now, it is ours to use.
      if (nameOf(error) === 'BucketAlreadyOwnedByYou') return;
      const reachable = await client.send(new HeadBucketCommand({ Bucket })).then(
        () => true,
        () => false,
      );
      if (reachable) return;
      throw storageError('CreateBucket', error);
    }
  }

  async function head(key: string, requestOptions: StorageRequestOptions = {}): Promise<ObjectHead | null> {
    return withRetry(policy, 'HeadObject', key, requestOptions.signal, async (signal) => {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: key }), sendOptions(signal));
        return { bytes: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream', metadata: out.Metadata ?? {} };
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    });
  }

  return {
    bucket: Bucket,
    ensureBucket,

    async put(key, body, contentType, metadata, requestOptions = {}) {
      return withRetry(policy, 'PutObject', key, requestOptions.signal, async (signal) => {
        const command = new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.byteLength, Metadata: metadata });
        const out = await client.send(command, sendOptions(signal));
        return { key, bytes: body.byteLength, etag: unquote(out.ETag) };
      });
    },

    async get(key, requestOptions = {}) {
      return withRetry(policy, 'GetObject', key, requestOptions.signal, async (signal) => {
        try {
          const out = await client.send(new GetObjectCommand({ Bucket, Key: key }), sendOptions(signal));
          // Read inside the attempt: a connection cut mid-body is retried like one cut before the answer.
          if (!out.Body) return Buffer.alloc(0);
          return Buffer.from(await out.Body.transformToByteArray());
        } catch (error) {
          if (isMissing(error)) throw new CuratorError('not_found', `No object "${key}" in bucket "${Bucket}"`, { cause: error });
          throw error;
        }
      });
    },

    head,

    async exists(key, requestOptions) {
      return (await head(key, requestOptions)) !== null;
    },

    async delete(key, requestOptions = {}) {
      await withRetry(policy, 'DeleteObject', key, requestOptions.signal, async (signal) => {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }), sendOptions(signal));
      });
    },

    async presignGet(key, expiresSeconds = options.presignExpiresSeconds) {
      const signedAt = new Date();
      try {
        const url = await signGet(key, expiresSeconds, signedAt);
        return { url, expiresAt: new Date(signedAt.getTime() + expiresSeconds * 1000).toISOString() };
      } catch (error) {
        throw storageError('presign GetObject', error);
      }
    },

    async ping() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (error) {
        if (isMissing(error)) throw new CuratorError('storage_unavailable', `Bucket "${Bucket}" does not exist`, { retryable: true, cause: error });
        throw storageError('HeadBucket', error);
      }
    },

    close() {
      client.destroy();
      if (presigner !== client) presigner.destroy();
    },
  };
}
