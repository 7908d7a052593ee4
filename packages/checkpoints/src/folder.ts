// A model folder as transformers/diffusers save it: one weights file, or shards listed by an
// `*.index.json` weight_map. safetensors is preferred when both kinds are present.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EntryReader, type TensorEntry } from './entries.ts';
import { invalid } from './errors.ts';
import { openCheckpoint } from './open.ts';
import type { CheckpointReader } from './types.ts';

// In order of preference: safetensors before pickles, single files before shards.
export const weightFileNames = [
  'model.safetensors',
  'diffusion_pytorch_model.safetensors',
  'model.safetensors.index.json',
  'diffusion_pytorch_model.safetensors.index.json',
  'pytorch_model.bin',
  'diffusion_pytorch_model.bin',
  'pytorch_model.bin.index.json',
  'diffusion_pytorch_model.bin.index.json',
] as const;

// An index of a real model is kilobytes; the largest on the Hub are a few MB.
const maxIndexBytes = 64 * 1024 * 1024;

export async function openCheckpointFolder(dir: string): Promise<CheckpointReader> {
  const present = new Set(await readdir(dir));
  const file = weightFileNames.find((name) => present.has(name));
  if (!file) throw invalid(dir, `no weights file (looked for ${weightFileNames.join(', ')})`);
  const path = join(dir, file);
  return file.endsWith('.index.json') ? openSharded(dir, path) : openCheckpoint(path);
}

async function openSharded(dir: string, indexPath: string): Promise<CheckpointReader> {
  const weightMap = parseIndex(indexPath, await readIndex(indexPath));
  const shards = new Map<string, CheckpointReader>();
  try {
    for (const shard of new Set(weightMap.values())) shards.set(shard, await openShard(indexPath, join(dir, shard)));
    const entries = shardEntries(indexPath, weightMap, shards);
    const format = shards.values().next().value?.format ?? 'safetensors';
    return new EntryReader(format, indexPath, entries, () => closeAll(shards.values()));
  } catch (error) {
    await closeAll(shards.values());
    throw error;
  }
}

async function openShard(indexPath: string, shardPath: string): Promise<CheckpointReader> {
  try {
    return await openCheckpoint(shardPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw invalid(indexPath, `index names shard ${basename(shardPath)}, which is missing`, error);
    throw error;
  }
}

async function readIndex(indexPath: string): Promise<string> {
  const { size } = await stat(indexPath);
  if (size > maxIndexBytes) throw invalid(indexPath, `index is ${size} bytes, over the ${maxIndexBytes}-byte limit`);
  return readFile(indexPath, 'utf8');
}

/** `{ metadata?, weight_map: { tensor name: shard file name } }`; shard names must be plain file names. */
function parseIndex(indexPath: string, text: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(indexPath, `index is not JSON (${(error as Error).message})`, error);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw invalid(indexPath, 'index has no weight_map object');
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard === '..' || shard === '.' || shard.includes('\\')) {
      throw invalid(indexPath, `weight_map sends ${name} to ${JSON.stringify(shard)}, which is not a file name in this folder`);
    }
    map.set(name, shard);
  }
  if (map.size === 0) throw invalid(indexPath, 'weight_map is empty');
  return map;
}

/** Every tensor of every shard, each in the shard the index names; no name may appear twice. */
function shardEntries(indexPath: string, weightMap: Map<string, string>, shards: Map<string, CheckpointReader>): Map<string, TensorEntry> {
  const entries = new Map<string, TensorEntry>();
  const holder = new Map<string, string>();
  for (const [shardName, shard] of shards) {
    for (const info of shard.tensors()) {
      if (entries.has(info.name)) throw invalid(indexPath, `tensor ${info.name} is in more than one shard (${holder.get(info.name)}, ${shardName})`);
      holder.set(info.name, shardName);
      entries.set(info.name, { info, readBytes: async () => (await shard.readRaw(info.name)).bytes });
    }
  }
  for (const [name, shardName] of weightMap) {
    const actual = holder.get(name);
    if (actual === undefined) throw invalid(indexPath, `index lists ${name} in ${shardName}, which does not hold it`);
    if (actual !== shardName) throw invalid(indexPath, `tensor ${name} is in ${actual} but the index says ${shardName}`);
  }
  return entries;
}

async function closeAll(readers: Iterable<CheckpointReader>): Promise<void> {
  await Promise.all([...readers].map((reader) => reader.close()));
}
