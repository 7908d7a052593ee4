import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32ToFloat16Bits, float16BitsToFloat32, encodeFloat16, decodeFloat16 } from '../src/float16.ts';

test('known binary16 bit patterns', () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [Infinity, 0x7c00], [1e6, 0x7c00], [2 ** -26, 0x0000],
  ];
  for (const [value, bits] of cases) {
    assert.equal(float32ToFloat16Bits(value), bits, `${value}`);
    if (Math.abs(value) <= 65504 && (value === 0 || Math.abs(value) >= 2 ** -24)) assert.equal(float16BitsToFloat32(bits), value);
  }
  assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN))));
  // Halfway between 1 and the next half (1 + 2^-10) rounds to even: 1.
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
});

test('arrays round-trip within half precision', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 100);
  const back = decodeFloat16(encodeFloat16(values));
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(back[i]! - values[i]!) <= Math.abs(values[i]!) * 2 ** -11 + 1e-7);
});
