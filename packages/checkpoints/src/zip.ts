// The part of the zip format a PyTorch checkpoint uses, read straight from file offsets: the central
// directory (with ZIP64), local headers, STORED records read in place and DEFLATE records inflated
// as a stream. See README.md for why this is not a zip library. CRCs are not checked, as PyTorch's
// own reader does not check them (and torch.save can write files without them); every offset and
// size is checked instead.
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import type { ByteSource, RecordBytes } from './byte-source.ts';
import { invalid } from './errors.ts';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}


const eocdSignature = 0x06054b50;
const zip64LocatorSignature = 0x07064b50;
const zip64EocdSignature = 0x06064b50;
const centralSignature = 0x02014b50;
const localSignature = 0x04034b50;
const eocdSize = 22;
const maxCommentLength = 0xffff;
const centralHeaderSize = 46;
const localHeaderSize = 30;

export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

interface Directory {
  offset: number;
  size: number;
  count: number;
}

/** Every entry of the central directory, by name. */
export async function readZipDirectory(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const directory = await findDirectory(source);
  const bytes = await source.read(directory.offset, directory.size);
  const entries = new Map<string, ZipEntry>();
  let position = 0;
  for (let i = 0; i < directory.count; i++) {
    const entry = parseCentralEntry(source.path, bytes, position);
    if (entries.has(entry.name)) throw invalid(source.path, `zip lists ${entry.name} twice`);
    if (entry.localHeaderOffset + localHeaderSize > directory.offset) throw invalid(source.path, `zip entry ${entry.name} starts inside the central directory`);
    entries.set(entry.name, entry);
    position = entry.next;
  }
  return entries;
}

async function findDirectory(source: ByteSource): Promise<Directory> {
  const tailLength = Math.min(source.size, eocdSize + maxCommentLength);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let at = tailLength - eocdSize; at >= 0; at--) {
    if (view.getUint32(at, true) !== eocdSignature) continue;
    if (at + eocdSize + view.getUint16(at + 20, true) > tailLength) continue;
    const directory = { count: view.getUint16(at + 10, true), size: view.getUint32(at + 12, true), offset: view.getUint32(at + 16, true) };
    const zip64 = at >= 20 && view.getUint32(at - 20, true) === zip64LocatorSignature;
    const found = zip64 ? await readZip64Directory(source, readU64(source.path, view, at - 20 + 8)) : directory;
    return checkDirectory(source, found, tailStart + at);
  }
  throw invalid(source.path, 'not a complete zip archive: no end-of-central-directory record (truncated?)');
}

async function readZip64Directory(source: ByteSource, offset: number): Promise<Directory> {
  const bytes = await source.read(offset, 56);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== zip64EocdSignature) throw invalid(source.path, 'zip64 end-of-central-directory record is missing or damaged');
  return { count: readU64(source.path, view, 32), size: readU64(source.path, view, 40), offset: readU64(source.path, view, 48) };
}

function checkDirectory(source: ByteSource, directory: Directory, end: number): Directory {
  if (directory.offset + directory.size > end) throw invalid(source.path, 'zip central directory runs past its end record (truncated or damaged)');
  if (directory.count * centralHeaderSize > directory.size) throw invalid(source.path, `zip claims ${directory.count} entries but its directory has room for fewer`);
  return directory;
}

function readU64(path: string, view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, `zip field of ${value} is out of range`);
  return Number(value);
}

function parseCentralEntry(path: string, bytes: Uint8Array, at: number): ZipEntry & { next: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + centralHeaderSize > bytes.length || view.getUint32(at, true) !== centralSignature) throw invalid(path, 'zip central directory is damaged');
  const nameLength = view.getUint16(at + 28, true);
  const extraLength = view.getUint16(at + 30, true);
  const commentLength = view.getUint16(at + 32, true);
  const next = at + centralHeaderSize + nameLength + extraLength + commentLength;
  if (next > bytes.length) throw invalid(path, 'zip central directory entry runs past the directory');
  const name = new TextDecoder().decode(bytes.subarray(at + centralHeaderSize, at + centralHeaderSize + nameLength));
  const extra = new DataView(bytes.buffer, bytes.byteOffset + at + centralHeaderSize + nameLength, extraLength);
  const sizes = applyZip64Extra(path, name, extra, {
    compressedSize: view.getUint32(at + 20, true),
    size: view.getUint32(at + 24, true),
    localHeaderOffset: view.getUint32(at + 42, true),
  });
  return { name, flags: view.getUint16(at + 8, true), method: view.getUint16(at + 10, true), crc32: view.getUint32(at + 16, true), ...sizes, next };
}

type Sizes = { compressedSize: number; size: number; localHeaderOffset: number };

/** Fields stored as 0xFFFFFFFF live in the ZIP64 extra field (id 1), in this order. */
function applyZip64Extra(path: string, name: string, extra: DataView, sizes: Sizes): Sizes {
  const needed = (['size', 'compressedSize', 'localHeaderOffset'] as const).filter((field) => sizes[field] === 0xffffffff);
  if (needed.length === 0) return sizes;
  for (let at = 0; at + 4 <= extra.byteLength; ) {
    const id = extra.getUint16(at, true);
    const length = extra.getUint16(at + 2, true);
    if (id === 1) {
      if (length < needed.length * 8 || at + 4 + length > extra.byteLength) break;
      const result = { ...sizes };
      needed.forEach((field, i) => (result[field] = readU64(path, extra, at + 4 + i * 8)));
      return result;
    }
    at += 4 + length;
  }
  throw invalid(path, `zip entry ${name} lacks the ZIP64 sizes it refers to`);
}

/** Locates an entry's data through its local header and gives range reads of its bytes. */
export async function openZipRecord(source: ByteSource, entry: ZipEntry): Promise<RecordBytes> {
  if (entry.flags & 1) throw invalid(source.path, `zip entry ${entry.name} is encrypted`);
  if (entry.method !== 0 && entry.method !== 8) throw invalid(source.path, `zip entry ${entry.name} uses compression method ${entry.method} (only stored and deflate are read)`);
  if (entry.method === 0 && entry.compressedSize !== entry.size) throw invalid(source.path, `zip entry ${entry.name} is stored but its sizes differ`);
  const dataStart = await localDataStart(source, entry);
  if (dataStart + entry.compressedSize > source.size) {
    throw invalid(source.path, `zip entry ${entry.name} needs ${entry.compressedSize} bytes at ${dataStart} but the file ends at ${source.size} (truncated?)`);
  }
  return entry.method === 0 ? storedRecord(source, entry, dataStart) : deflatedRecord(source, entry, dataStart);
}

async function localDataStart(source: ByteSource, entry: ZipEntry): Promise<number> {
  const header = await source.read(entry.localHeaderOffset, localHeaderSize);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (view.getUint32(0, true) !== localSignature) throw invalid(source.path, `zip entry ${entry.name} has no local header where the directory says`);
  const nameLength = view.getUint16(26, true);
  const name = new TextDecoder().decode(await source.read(entry.localHeaderOffset + localHeaderSize, nameLength));
  if (name !== entry.name) throw invalid(source.path, `zip local header names ${name} where the directory says ${entry.name}`);
  return entry.localHeaderOffset + localHeaderSize + nameLength + view.getUint16(28, true);
}

function storedRecord(source: ByteSource, entry: ZipEntry, dataStart: number): RecordBytes {
  return {
    name: entry.name,
    byteLength: entry.size,
    read: async (offset, length) => {
      checkRecordRange(source.path, entry, offset, length);
      return source.read(dataStart + offset, length);
    },
  };
}

function deflatedRecord(source: ByteSource, entry: ZipEntry, dataStart: number): RecordBytes {
  return {
    name: entry.name,
    byteLength: entry.size,
    read: async (offset, length) => {
      checkRecordRange(source.path, entry, offset, length);
      return inflateRange(source, entry, dataStart, offset, length);
    },
  };
}

function checkRecordRange(path: string, entry: ZipEntry, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > entry.size) {
    throw invalid(path, `zip entry ${entry.name} has ${entry.size} bytes; bytes ${offset}..${offset + length} were asked for`);
  }
}

const inflateChunk = 1 << 20;

/** Inflates from the start of the record, keeping only [offset, offset+length): memory stays at the range. */
async function inflateRange(source: ByteSource, entry: ZipEntry, dataStart: number, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  if (length === 0) return out;
  let produced = 0;
  const inflater = Readable.from(compressedChunks(source, dataStart, entry.compressedSize)).pipe(createInflateRaw());
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      copyOverlap(chunk, produced, out, offset);
      produced += chunk.length;
      if (produced > entry.size) throw invalid(source.path, `zip entry ${entry.name} inflates past its declared ${entry.size} bytes`);
      if (produced >= offset + length) return out;
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'checkpoint_invalid') throw error;
    throw invalid(source.path, `zip entry ${entry.name} does not inflate (${(error as Error).message})`, error);
  } finally {
    inflater.destroy();
  }
  throw invalid(source.path, `zip entry ${entry.name} inflates to ${produced} bytes, fewer than its declared ${entry.size}`);
}

async function* compressedChunks(source: ByteSource, start: number, size: number): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < size; done += inflateChunk) yield source.read(start + done, Math.min(inflateChunk, size - done));
}

function copyOverlap(chunk: Uint8Array, chunkStart: number, out: Uint8Array, outStart: number): void {
  const from = Math.max(chunkStart, outStart);
  const to = Math.min(chunkStart + chunk.length, outStart + out.length);
  if (from < to) out.set(chunk.subarray(from - chunkStart, to - chunkStart), from - outStart);
}
