// float32 <-> IEEE 754 binary16. fp16 exports take and return float16 tensors whose bits travel in a
// Uint16Array (see ./ort.ts for why not Float16Array). One implementation for every engine and for
// the test-model generator.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `value` (round half to even; overflow to infinity). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

let table: Float32Array | undefined;

/** Every one of the 65,536 bit patterns decoded once: decoding a vocabulary of logits is then a lookup. */
function decodeTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exp = (bits >>> 10) & 0x1f;
    const mant = bits & 0x3ff;
    table[bits] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? Number.NaN : sign * Number.POSITIVE_INFINITY) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return table;
}

export function float16BitsToFloat32(bits: number): number {
  return decodeTable()[bits & 0xffff]!;
}

export function encodeFloat16(source: ArrayLike<number>, target: Uint16Array = new Uint16Array(source.length), offset = 0): Uint16Array {
  for (let i = 0; i < source.length; i++) target[offset + i] = float32ToFloat16Bits(source[i]!);
  return target;
}

export function decodeFloat16(source: Uint16Array, target: Float32Array = new Float32Array(source.length)): Float32Array {
  const lookup = decodeTable();
  for (let i = 0; i < source.length; i++) target[i] = lookup[source[i]!]!;
  return target;
}
