// Shared by the UNet and VAE tests: diffusers' reference data as weight sources and tensors, and
// running a written graph on onnxruntime-node.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { decodeFloat16, encodeFloat16 } from '@curator/inference/float16';
import { openCheckpoint, type CheckpointReader } from '@curator/checkpoints';
import { diffusersReferenceDir } from '@curator/reference';
import type { WeightSource } from '../src/weights.ts';
import type { Precision } from '../src/graph.ts';

export const referenceDir = diffusersReferenceDir;

export async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** A WeightSource over a safetensors file, as the converter will adapt a checkpoint. */
export function readerWeights(reader: CheckpointReader, rename: (name: string) => string = (name) => name): WeightSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(name, shape) {
      asked.push(name);
      const info = reader.info(rename(name));
      if (!info) throw new Error(`${name} is not in ${reader.path}`);
      if (info.shape.join() !== shape.join()) throw new Error(`${name} is [${info.shape}] in ${reader.path}, the builder wants [${shape}]`);
      return reader.readFloat32(info.name);
    },
  };
}

export async function withReaders<T>(paths: string[], fn: (readers: CheckpointReader[]) => Promise<T>): Promise<T> {
  const readers = await Promise.all(paths.map((p) => openCheckpoint(p)));
  try {
    return await fn(readers);
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'graphs-sd-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A float tensor in the graph's precision. */
export function floatTensor(precision: Precision, data: Float32Array, dims: number[]): ort.Tensor {
  return precision === 'fp16' ? new ort.Tensor('float16', encodeFloat16(data), dims) : new ort.Tensor('float32', data, dims);
}

export function floatsOf(tensor: ort.Tensor): Float32Array {
  return tensor.type === 'float16' ? decodeFloat16(tensor.data as Uint16Array) : (tensor.data as Float32Array);
}

export async function run(path: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(path);
  try {
    return (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

export function maxAbs(a: Float32Array): number {
  let max = 0;
  for (const v of a) max = Math.max(max, Math.abs(v));
  return max;
}

/** Names and shapes as a sorted list of `name [shape]` lines, for exact comparison with a state dict. */
export function describe(requests: Array<{ name: string; shape: readonly number[] }> | Record<string, number[]>): string[] {
  const entries = Array.isArray(requests) ? requests.map((r) => [r.name, r.shape] as const) : Object.entries(requests);
  return entries.map(([name, shape]) => `${name} [${shape.join(', ')}]`).sort();
}

export { ort };
