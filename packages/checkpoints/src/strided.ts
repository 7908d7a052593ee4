// PyTorch tensors are views: (storage, offset, shape, stride) in elements. Tied weights share one
// storage; transposed and sliced tensors are not contiguous. These turn such a view into the
// contiguous row-major bytes a reader returns, reading only the span of the storage the view covers.
import { dtypeSizes, elementCount } from './dtype.ts';
import { invalid } from './errors.ts';
import type { TensorEntry } from './entries.ts';
import type { TensorRecord } from './torch-pickle.ts';
import type { TensorInfo } from './types.ts';
import type { RecordBytes } from './byte-source.ts';

/** Elements [first, end) of the storage that a view touches; empty for a tensor with no elements. */
export function viewExtent(record: Pick<TensorRecord, 'storageOffset' | 'shape' | 'stride'>): { first: number; end: number } {
  if (elementCount(record.shape) === 0) return { first: record.storageOffset, end: record.storageOffset };
  let last = record.storageOffset;
  record.shape.forEach((size, i) => (last += (size - 1) * record.stride[i]!));
  return { first: record.storageOffset, end: last + 1 };
}

/** True when the view's elements lie in row-major order with no gaps (size-1 dims may have any stride). */
export function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** A reader entry for one tensor of a PyTorch checkpoint; checks at once that the view fits its storage. */
export function tensorEntry(path: string, name: string, record: TensorRecord, storage: RecordBytes): TensorEntry {
  const size = dtypeSizes[record.dtype];
  const { first, end } = viewExtent(record);
  const held = Math.min(storage.byteLength, record.storage.numel * dtypeSizes[record.storage.dtype]);
  if (end * size > held) {
    throw invalid(path, `tensor ${name} needs elements ${first}..${end} of storage ${record.storage.key} (${end * size} bytes) but the storage holds ${held} bytes`);
  }
  const info: TensorInfo = { name, dtype: record.dtype, shape: [...record.shape] };
  const count = elementCount(record.shape);
  if (isRowMajor(record.shape, record.stride)) return { info, readBytes: () => storage.read(first * size, count * size) };
  return {
    info,
    readBytes: async () => gather(await storage.read(first * size, (end - first) * size), size, record.shape, record.stride),
  };
}

type Units = Uint8Array | Uint16Array | Uint32Array;

/** Copies a strided view (offsets relative to `span`) into a new contiguous row-major buffer. */
export function gather(span: Uint8Array, elementSize: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const count = elementCount(shape);
  const out = new Uint8Array(count * elementSize);
  if (count === 0) return out;
  // 8-byte elements move as two 32-bit words so that no NaN payload passes through a float.
  const words = elementSize === 8 ? 2 : 1;
  const unitSize = elementSize / words;
  const source = unitView(span.byteOffset % unitSize === 0 ? span : span.slice(), unitSize);
  const target = unitView(out, unitSize);
  const rank = shape.length;
  const inner = rank === 0 ? 1 : shape[rank - 1]!;
  const innerStride = (rank === 0 ? 1 : stride[rank - 1]!) * words;
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let base = 0;
  for (let written = 0; written < target.length; ) {
    for (let i = 0, from = base; i < inner; i++, from += innerStride) {
      for (let w = 0; w < words; w++) target[written++] = source[from + w]!;
    }
    base = advance(index, shape, stride, base, words);
  }
  return out;
}

/** Steps the outer index (all dims but the last) like an odometer; returns the new base offset in units. */
function advance(index: number[], shape: readonly number[], stride: readonly number[], base: number, words: number): number {
  for (let dim = index.length - 1; dim >= 0; dim--) {
    index[dim]!++;
    base += stride[dim]! * words;
    if (index[dim]! < shape[dim]!) return base;
    base -= index[dim]! * stride[dim]! * words;
    index[dim] = 0;
  }
  return base;
}

function unitView(bytes: Uint8Array, unitSize: number): Units {
  const length = bytes.byteLength / unitSize;
  if (unitSize === 1) return bytes;
  return unitSize === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, length) : new Uint32Array(bytes.buffer, bytes.byteOffset, length);
}
