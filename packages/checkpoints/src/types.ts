// The shapes every reader and writer in this package shares (see docs: MODELS-DESIGN "Interfaces").

export type TensorDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  name: string;
  dtype: TensorDType;
  shape: number[];
}

export type CheckpointFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy';

export interface CheckpointReader {
  readonly format: CheckpointFormat;
  readonly path: string;
  /** Every tensor's name, dtype and shape, read from the header/pickle only. */
  tensors(): TensorInfo[];
  info(name: string): TensorInfo | undefined;
  /** The tensor as float32 (from F64/F32/F16/BF16), contiguous row-major, honoring torch strides/offsets. */
  readFloat32(name: string): Promise<Float32Array>;
  /** Raw little-endian bytes in the stored dtype, contiguous row-major. */
  readRaw(name: string): Promise<{ info: TensorInfo; bytes: Uint8Array }>;
  close(): Promise<void>;
}

/** A tensor to write: raw little-endian bytes in `dtype`, or a Float32Array for F32. */
export interface NamedTensor {
  name: string;
  dtype: TensorDType;
  shape: readonly number[];
  data: Uint8Array | Float32Array;
}

export type TensorSource = AsyncIterable<NamedTensor> | Iterable<NamedTensor>;
