export type { CheckpointFormat, CheckpointReader, NamedTensor, TensorDType, TensorInfo, TensorSource } from './types.ts';
export type { ByteSource } from './byte-source.ts';
export { openFileSource } from './byte-source.ts';
export { dtypeSizes, elementCount } from './dtype.ts';
export { openCheckpoint } from './open.ts';
export { readSafetensorsHeader, type SafetensorsHeader } from './safetensors.ts';
export { openCheckpointFolder, weightFileNames } from './folder.ts';
