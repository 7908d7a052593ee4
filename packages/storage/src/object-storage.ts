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
import { CuratorError } from '@curator/contracts';

export interface ObjectStorageOptions {
  /** Unset: AWS S3 itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  /** Both unset: the AWS SDK default credential chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Whether `ensureBucket()` may create a missing bucket. */
  createBucket: boolean;
  presignExpiresSeconds: number;
  /** Attempts per request inside the SDK before a failure is reported (default 3). */
  maxAttempts?: number;
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

export interface ObjectStorage {
  readonly bucket: string;
  /** Creates the bucket when it is missing and creation is allowed. */
  ensureBucket(): Promise<void>;
  put(key: string, body: Buffer | Uint8Array, contentType: string, metadata?: Record<string, string>): Promise<StoredObject>;
  /** Throws `not_found` when the key is missing. */
  get(key: string): Promise<Buffer>;
  head(key: string): Promise<ObjectHead | null>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** A fresh URL on every call; `expiresSeconds` defaults to `presignExpiresSeconds`. */
  presignGet(key: string, expiresSeconds?: number): Promise<PresignedUrl>;
  /** Succeeds when the bucket answers; for readiness probes. */
  ping(): Promise<void>;
  close(): void;
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(error: unknown): number | undefined {
  return (error as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string | undefined {
  const shape = error as S3ErrorShape | undefined;
  return shape?.name ?? shape?.Code;
}

function isMissing(error: unknown): boolean {
  const name = nameOf(error);
  return statusOf(error) === 404 || name === 'NotFound' || name === 'NoSuchKey';
}

/** Maps an SDK failure to a CuratorError: down or 5xx is retryable, a rejection is not. */
function storageError(action: string, error: unknown): CuratorError {
  if (error instanceof CuratorError) return error;
  const status = statusOf(error);
  const name = nameOf(error) ?? 'Error';
  const reason = error instanceof Error ? error.message : String(error);
  if (status === undefined || status >= 500) {
    return new CuratorError('storage_unavailable', `Object storage unavailable during ${action}: ${name}: ${reason}`, { retryable: true, cause: error });
  }
  return new CuratorError('storage_unavailable', `Object storage refused ${action} (HTTP ${status} ${name}): ${reason}`, { retryable: false, cause: error });
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

export function createObjectStorage(options: ObjectStorageOptions): ObjectStorage {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    maxAttempts: options.maxAttempts ?? 3,
    // Since 3.729 the SDK sends streamed uploads with an aws-chunked CRC32 trailer by default; s3rver (and some
    // other S3-compatible servers) store the chunk framing as the object. Only checksum where S3 requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.accessKeyId && options.secretAccessKey) {
    config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  const client = new S3Client(config);
  const Bucket = options.bucket;

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
      // Another process created it between our HeadBucket and CreateBucket.
      if (nameOf(error) === 'BucketAlreadyOwnedByYou') return;
      throw storageError('CreateBucket', error);
    }
  }

  async function head(key: string): Promise<ObjectHead | null> {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
      return { bytes: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream', metadata: out.Metadata ?? {} };
    } catch (error) {
      if (isMissing(error)) return null;
      throw storageError('HeadObject', error);
    }
  }

  return {
    bucket: Bucket,
    ensureBucket,

    async put(key, body, contentType, metadata) {
      try {
        const out = await client.send(
          new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.byteLength, Metadata: metadata }),
        );
        return { key, bytes: body.byteLength, etag: unquote(out.ETag) };
      } catch (error) {
        throw storageError('PutObject', error);
      }
    },

    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        if (!out.Body) return Buffer.alloc(0);
        return Buffer.from(await out.Body.transformToByteArray());
      } catch (error) {
        if (isMissing(error)) throw new CuratorError('not_found', `No object "${key}" in bucket "${Bucket}"`, { cause: error });
        throw storageError('GetObject', error);
      }
    },

    head,

    async exists(key) {
      return (await head(key)) !== null;
    },

    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
      } catch (error) {
        throw storageError('DeleteObject', error);
      }
    },

    async presignGet(key, expiresSeconds = options.presignExpiresSeconds) {
      const signedAt = Date.now();
      try {
        const url = await getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: expiresSeconds });
        return { url, expiresAt: new Date(signedAt + expiresSeconds * 1000).toISOString() };
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
    },
  };
}
