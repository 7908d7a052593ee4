import type { ByteSource } from './byte-source.ts';
import { dtypeSizes, elementCount, isTensorDType } from './dtype.ts';
import { EntryReader, type TensorEntry } from './entries.ts';
import { invalid } from './errors.ts';
import type { TensorInfo } from './types.ts';

// The safetensors library refuses headers over 100 MB; so do we, before allocating anything.
export const maxSafetensorsHeader = 100_000_000;

interface HeaderTensor {
  info: TensorInfo;
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Absolute file offset where tensor data starts (8 + header length). */
  dataStart: number;
  tensors: HeaderTensor[];
  metadata: Record<string, string>;
}

/** True when the first bytes look like a safetensors header length followed by a JSON object. */
export function looksLikeSafetensors(head: Uint8Array): boolean {
  return head.length >= 9 && head[8] === 0x7b; // '{' right after the 8-byte length
}

export async function openSafetensors(source: ByteSource): Promise<EntryReader> {
  const header = await readSafetensorsHeader(source);
  const entries = new Map<string, TensorEntry>();
  // File order, not JSON key order (JSON.parse puts integer-like names first).
  for (const tensor of [...header.tensors].sort((a, b) => a.begin - b.begin)) {
    const offset = header.dataStart + tensor.begin;
    const length = tensor.end - tensor.begin;
    entries.set(tensor.info.name, { info: tensor.info, readBytes: () => source.read(offset, length) });
  }
  return new EntryReader('safetensors', source.path, entries, () => source.close());
}

export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const path = source.path;
  if (source.size < 8) throw invalid(path, `safetensors file of ${source.size} bytes has no header length (truncated?)`);
  const headerLength = readU64(path, await source.read(0, 8));
  if (headerLength > maxSafetensorsHeader) throw invalid(path, `safetensors header claims ${headerLength} bytes, over the ${maxSafetensorsHeader}-byte limit`);
  if (8 + headerLength > source.size) throw invalid(path, `safetensors header claims ${headerLength} bytes but the file has only ${source.size - 8} after the length (truncated?)`);
  const json = parseHeaderJson(path, await source.read(8, headerLength));
  const dataStart = 8 + headerLength;
  const { tensors, metadata } = parseHeaderEntries(path, json);
  checkLayout(path, tensors, source.size - dataStart);
  return { dataStart, tensors, metadata };
}

function readU64(path: string, bytes: Uint8Array): number {
  const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, `safetensors header claims ${value} bytes, over the ${maxSafetensorsHeader}-byte limit`);
  return Number(value);
}

function parseHeaderJson(path: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid(path, `safetensors header is not valid UTF-8 JSON (${(error as Error).message})`, error);
  }
  if (!isPlainObject(value)) throw invalid(path, 'safetensors header is not a JSON object');
  return value;
}

function parseHeaderEntries(path: string, json: Record<string, unknown>): { tensors: HeaderTensor[]; metadata: Record<string, string> } {
  const tensors: HeaderTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(path, value);
    else tensors.push(parseTensor(path, name, value));
  }
  return { tensors, metadata };
}

function parseMetadata(path: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw invalid(path, 'safetensors __metadata__ is not an object');
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw invalid(path, `safetensors __metadata__.${key} is not a string`);
  }
  return value as Record<string, string>;
}

function parseTensor(path: string, name: string, value: unknown): HeaderTensor {
  if (!isPlainObject(value)) throw invalid(path, `safetensors entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !isTensorDType(dtype)) throw invalid(path, `tensor ${name} has dtype ${JSON.stringify(dtype)}, which Curator does not read`);
  if (!Array.isArray(shape) || !shape.every(isDimension)) throw invalid(path, `tensor ${name} has a bad shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDimension) || offsets[0]! > offsets[1]!) {
    throw invalid(path, `tensor ${name} has bad data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = elementCount(shape) * dtypeSizes[dtype];
  if (expected !== end - begin) throw invalid(path, `tensor ${name} ${dtype}[${shape.join(', ')}] needs ${expected} bytes but data_offsets span ${end - begin}`);
  return { info: { name, dtype, shape: [...shape] }, begin, end };
}

/** Tensors must tile the data area exactly, in order, as the safetensors library requires. */
function checkLayout(path: string, tensors: HeaderTensor[], dataLength: number): void {
  const ordered = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const tensor of ordered) {
    if (tensor.begin !== position) {
      const problem = tensor.begin < position ? 'overlaps the tensor before it' : `leaves a gap of ${tensor.begin - position} bytes before it`;
      throw invalid(path, `tensor ${tensor.info.name} at data_offsets [${tensor.begin}, ${tensor.end}] ${problem}`);
    }
    position = tensor.end;
  }
  if (position > dataLength) throw invalid(path, `tensor data needs ${position} bytes but the file has only ${dataLength} after the header (truncated?)`);
  if (position < dataLength) throw invalid(path, `${dataLength - position} bytes after the last tensor belong to no tensor`);
}

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
