// Checks a tensor handed to a writer and turns its data into bytes.
import { dtypeSizes, elementCount, isTensorDType } from './dtype.ts';
import type { NamedTensor, TensorData } from './types.ts';

/** Refuses a name, dtype or shape no reader would accept, before anything is written. */
export function checkTensorInfo(tensor: NamedTensor, seen: Set<string>): void {
  if (typeof tensor.name !== 'string' || tensor.name.length === 0) throw new TypeError('a tensor to write has no name');
  if (seen.has(tensor.name)) throw new TypeError(`tensor ${tensor.name} is given twice`);
  if (!isTensorDType(tensor.dtype)) throw new TypeError(`tensor ${tensor.name} has unknown dtype ${String(tensor.dtype)}`);
  if (!tensor.shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) throw new TypeError(`tensor ${tensor.name} has a bad shape [${tensor.shape.join(', ')}]`);
  seen.add(tensor.name);
}

export function byteLengthOf(tensor: Pick<NamedTensor, 'dtype' | 'shape'>): number {
  return elementCount(tensor.shape) * dtypeSizes[tensor.dtype];
}

/** The tensor's bytes (calling `data` if it is a function), checked against its dtype and shape. */
export async function tensorBytes(tensor: NamedTensor): Promise<Uint8Array> {
  const data: TensorData = typeof tensor.data === 'function' ? await tensor.data() : tensor.data;
  if (data instanceof Float32Array && tensor.dtype !== 'F32') throw new TypeError(`tensor ${tensor.name} is ${tensor.dtype} but its data is a Float32Array`);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const expected = byteLengthOf(tensor);
  if (bytes.byteLength !== expected) throw new TypeError(`tensor ${tensor.name} ${tensor.dtype}[${tensor.shape.join(', ')}] needs ${expected} bytes, got ${bytes.byteLength}`);
  return bytes;
}
