export type { CheckpointFormat, CheckpointReader, NamedTensor, TensorData, TensorDType, TensorInfo, TensorSource, WriteOptions, WriteProgress } from './types.ts';
export type { ByteSource } from './byte-source.ts';
export { openFileSource } from './byte-source.ts';
export { dtypeSizes, elementCount } from './dtype.ts';
export { openCheckpoint } from './open.ts';
export { readSafetensorsHeader, type SafetensorsHeader } from './safetensors.ts';
export { openCheckpointFolder, weightFileNames } from './folder.ts';
export { writeSafetensors } from './write-safetensors.ts';
export { writeTorchCheckpoint } from './write-torch.ts';
