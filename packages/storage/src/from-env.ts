import type { ObjectStorageOptions } from './object-storage.ts';

/** The S3 settings of Curator's environment (see @curator/config). */
export interface StorageEnv {
  S3_ENDPOINT?: string | undefined;
  S3_PUBLIC_ENDPOINT?: string | undefined;
  S3_REGION: string;
  S3_BUCKET: string;
  S3_FORCE_PATH_STYLE: boolean;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
  S3_CREATE_BUCKET: boolean;
  S3_RETRY_WINDOW_MS: number;
  PRESIGN_EXPIRES_SECONDS: number;
}

export function storageOptionsFromEnv(env: StorageEnv): ObjectStorageOptions {
  const options: ObjectStorageOptions = {
    region: env.S3_REGION,
    bucket: env.S3_BUCKET,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    createBucket: env.S3_CREATE_BUCKET,
    presignExpiresSeconds: env.PRESIGN_EXPIRES_SECONDS,
    retryWindowMs: env.S3_RETRY_WINDOW_MS,
  };
  if (env.S3_ENDPOINT) options.endpoint = env.S3_ENDPOINT;
  if (env.S3_PUBLIC_ENDPOINT) options.publicEndpoint = env.S3_PUBLIC_ENDPOINT;
  if (env.S3_ACCESS_KEY_ID) options.accessKeyId = env.S3_ACCESS_KEY_ID;
  if (env.S3_SECRET_ACCESS_KEY) options.secretAccessKey = env.S3_SECRET_ACCESS_KEY;
  return options;
}
