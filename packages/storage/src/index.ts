export { createObjectStorage } from './object-storage.ts';
export type { ObjectHead, ObjectStorage, ObjectStorageOptions, PresignedUrl, StoredObject } from './object-storage.ts';
export { embeddedS3Credentials, startEmbeddedS3 } from './embedded.ts';
export type { EmbeddedS3, EmbeddedS3Options } from './embedded.ts';
export { storageOptionsFromEnv, type StorageEnv } from './from-env.ts';
