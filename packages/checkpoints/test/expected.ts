// What make_fixtures.py recorded from PyTorch, and one assertion that a reader yields exactly that.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointsReferenceDir } from '@curator/reference';
import type { CheckpointReader } from '../src/index.ts';

export interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  raw_sha256: string;
  float32?: (number | string)[];
  float32_sha256?: string;
  values?: number[];
}

interface Expected {
  torch: string;
  files: Record<string, ExpectedTensor[]>;
  folders: Record<string, ExpectedTensor[]>;
  hostile: Record<string, string>;
}

export const fixturesDir = checkpointsReferenceDir;
export const expected: Expected = JSON.parse(readFileSync(join(fixturesDir, 'expected.json'), 'utf8'));

export function fixture(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function byName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function floatValue(value: number | string): number {
  return typeof value === 'number' ? value : value === 'inf' ? Infinity : value === '-inf' ? -Infinity : Number.NaN;
}

/** Every tensor's info, raw bytes and float32 values equal what PyTorch recorded. */
export async function assertReadsExpected(reader: CheckpointReader, tensors: ExpectedTensor[]): Promise<void> {
  const infos = byName(reader.tensors());
  assert.deepEqual(
    infos,
    byName(tensors).map(({ name, dtype, shape }) => ({ name, dtype, shape })),
  );
  for (const tensor of tensors) {
    assert.deepEqual(reader.info(tensor.name), { name: tensor.name, dtype: tensor.dtype, shape: tensor.shape });
    const raw = await reader.readRaw(tensor.name);
    assert.equal(sha256(raw.bytes), tensor.raw_sha256, `raw bytes of ${tensor.name}`);
    if (tensor.float32) {
      const values = await reader.readFloat32(tensor.name);
      assert.deepEqual([...values], tensor.float32.map(floatValue), `float32 values of ${tensor.name}`);
      assert.equal(sha256(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)), tensor.float32_sha256);
    } else {
      await assert.rejects(reader.readFloat32(tensor.name), { code: 'checkpoint_invalid', message: /not a floating-point tensor/ });
      assert.deepEqual(integerValues(tensor.dtype, raw.bytes), tensor.values, `values of ${tensor.name}`);
    }
  }
}

function integerValues(dtype: string, bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: Record<string, [number, (offset: number) => number]> = {
    I64: [8, (o) => Number(view.getBigInt64(o, true))],
    I32: [4, (o) => view.getInt32(o, true)],
    I16: [2, (o) => view.getInt16(o, true)],
    I8: [1, (o) => view.getInt8(o)],
    U8: [1, (o) => view.getUint8(o)],
    BOOL: [1, (o) => view.getUint8(o)],
  };
  const [size, get] = read[dtype]!;
  return Array.from({ length: bytes.byteLength / size }, (_, i) => get(i * size));
}
