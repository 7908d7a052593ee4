import { decodeFloat16 } from '@curator/inference/float16';
import type { TensorDType } from './types.ts';

export const dtypeSizes: Readonly<Record<TensorDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isTensorDType(value: string): value is TensorDType {
  return Object.hasOwn(dtypeSizes, value);
}

/** Number of elements of a shape; a scalar (empty shape) has one. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** Copies `bytes` into a fresh, aligned buffer when a typed view of `bytes` would be misaligned. */
function aligned(bytes: Uint8Array, elementSize: number): Uint8Array {
  return bytes.byteOffset % elementSize === 0 ? bytes : bytes.slice();
}

/** Little-endian raw bytes of a floating-point dtype as float32 values. */
export function toFloat32(dtype: TensorDType, raw: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': {
      const bytes = aligned(raw, 4);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    case 'F16': {
      const bytes = aligned(raw, 2);
      return decodeFloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
    }
    case 'BF16':
      return bfloat16ToFloat32(aligned(raw, 2));
    case 'F64': {
      const bytes = aligned(raw, 8);
      return Float32Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8));
    }
    default:
      throw new TypeError(`${dtype} is not a floating-point dtype`);
  }
}

export function isFloatDType(dtype: TensorDType): boolean {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

/** bfloat16 is the top half of a float32: widening is a shift, exact. */
function bfloat16ToFloat32(bytes: Uint8Array): Float32Array {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = halves[i]! << 16;
  return new Float32Array(out.buffer);
}
