// Shared by the text builder tests: transformers' tiny reference models (packages/reference/models),
// read with @curator/checkpoints, and small helpers to run the written graphs on onnxruntime.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { decodeFloat16 } from '@curator/inference/float16';
import { openCheckpoint, type CheckpointReader } from '@curator/checkpoints';
import { modelsReferenceDir } from '@curator/reference';
import type { WeightSource } from '../src/weights.ts';

export function fixturePath(model: string, file: string): string {
  return join(modelsReferenceDir, model, file);
}

export async function fixtureConfig(model: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(fixturePath(model, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** A WeightSource over a checkpoint reader: the adapter the converter will use. */
export function readerWeights(reader: CheckpointReader): WeightSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(name, shape) {
      asked.push(name);
      const info = reader.info(name);
      if (!info) throw new Error(`${name} is not in ${reader.path}`);
      if (info.shape.join() !== shape.join()) throw new Error(`${name} is [${info.shape}] in ${reader.path}, the builder wants [${shape}]`);
      return reader.readFloat32(name);
    },
  };
}

export interface FixtureTensor {
  shape: number[];
  /** Float tensors as float32; integer tensors as numbers. */
  values: number[] | Float32Array;
}

/** Every tensor of a fixture safetensors file (outputs.safetensors: inputs and transformers' outputs). */
export async function readTensors(path: string): Promise<Map<string, FixtureTensor>> {
  const reader = await openCheckpoint(path);
  try {
    const out = new Map<string, FixtureTensor>();
    for (const info of reader.tensors()) {
      if (info.dtype === 'I64') {
        const { bytes } = await reader.readRaw(info.name);
        const ints = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        out.set(info.name, { shape: info.shape, values: Array.from(ints, Number) });
      } else {
        out.set(info.name, { shape: info.shape, values: await reader.readFloat32(info.name) });
      }
    }
    return out;
  } finally {
    await reader.close();
  }
}

export function tensor(map: Map<string, FixtureTensor>, name: string): FixtureTensor {
  const t = map.get(name);
  if (!t) throw new Error(`no ${name} in the fixture`);
  return t;
}

export function int64(t: FixtureTensor): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(t.values as number[], (v) => BigInt(v)), t.shape);
}

export function int64Of(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0]!.length]);
}

/** A float output as float32, whatever its element type. */
export function floats(t: ort.Tensor): Float32Array {
  return t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

export async function session(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { logSeverityLevel: 3, intraOpNumThreads: 1 });
}

export async function withCheckpoint<T>(path: string, fn: (reader: CheckpointReader) => Promise<T>): Promise<T> {
  const reader = await openCheckpoint(path);
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

/** Records a measured figure in the test output (the README quotes them). */
export function report(what: string, value: number): void {
  console.log(`# ${what}: ${value.toExponential(2)}`);
}
