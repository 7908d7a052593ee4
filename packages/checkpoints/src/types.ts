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

/** Raw little-endian bytes in the tensor's dtype, contiguous row-major; or a Float32Array for F32. */
export type TensorData = Uint8Array | Float32Array;

/**
 * A tensor to write. `data` may be a function: it is then called when the tensor's bytes are
 * written, so a writer holds one tensor at a time (safetensors needs every name and shape before
 * the first byte of data, so it collects the list first).
 */
export interface NamedTensor {
  name: string;
  dtype: TensorDType;
  shape: readonly number[];
  data: TensorData | (() => TensorData | Promise<TensorData>);
}

export type TensorSource = AsyncIterable<NamedTensor> | Iterable<NamedTensor>;

export interface WriteProgress {
  /** The tensor just written. */
  name: string;
  tensors: number;
  bytes: number;
}

export interface WriteOptions {
  onProgress?: (progress: WriteProgress) => void;
}
