export * from './manifest.ts';
export * from './overrides.ts';
export * from './resolve.ts';
export * from './list.ts';
export * from './pull.ts';
export * from './sources.ts';
export { markerFileName, readMarker, sha256OfFile, type VerificationMarker } from './verify.ts';
