export { createObjectStorage, defaultRetryWindowMs } from './object-storage.ts';
export type { ObjectHead, ObjectStorage, ObjectStorageOptions, PresignedUrl, StorageRequestOptions, StoredObject } from './object-storage.ts';
export type { StorageRetryEvent } from './retry.ts';
export { storageOptionsFromEnv, type StorageEnv } from './from-env.ts';
export { presignResult } from './presign.ts';
