// torch.save's format before PyTorch 1.6 (still written with _use_new_zipfile_serialization=False):
// five pickles one after another (magic number, protocol version, sys_info, the state dict, the
// list of storage keys), then each storage's raw bytes, prefixed by its element count (int64).
import type { ByteSource, RecordBytes } from './byte-source.ts';
import { dtypeSizes } from './dtype.ts';
import { EntryReader, type TensorEntry } from './entries.ts';
import { invalid } from './errors.ts';
import { PickleNeedsMoreBytes, unpickle } from './pickle.ts';
import { maxPicklePayload } from './pytorch-zip.ts';
import { tensorEntry } from './strided.ts';
import { describe, plainHooks, storagePid, unpickleStateDict, type StorageRef } from './torch-pickle.ts';

const magicNumber = 0x1950a86a20f9469cfc6cn;
const protocolVersion = 1001;
// PROTO 2, LONG1 of 10 bytes, then the magic number little-endian.
const magicPrefix = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export function looksLikeLegacyTorch(head: Uint8Array): boolean {
  return head.length >= magicPrefix.length && magicPrefix.every((byte, i) => head[i] === byte);
}

export async function openTorchLegacy(source: ByteSource): Promise<EntryReader> {
  const path = source.path;
  const magic = await readPickleAt(source, 0, (bytes, complete) => unpickle(bytes, { path, hooks: plainHooks(path), complete }));
  if (magic.value !== magicNumber) throw invalid(path, 'legacy PyTorch file has the wrong magic number');
  const version = await readPickleAt(source, magic.end, (bytes, complete) => unpickle(bytes, { path, hooks: plainHooks(path), complete }));
  if (version.value !== protocolVersion) throw invalid(path, `legacy PyTorch file has protocol version ${describe(version.value)}, not ${protocolVersion}`);
  const sysInfo = await readPickleAt(source, version.end, (bytes, complete) => unpickle(bytes, { path, hooks: plainHooks(path), complete }));
  checkSysInfo(path, sysInfo.value);
  const storages = new Map<string, StorageRef>();
  const stateDict = await readPickleAt(source, sysInfo.end, (bytes, complete) => unpickleStateDict(path, bytes, (pid) => legacyStorage(path, storages, pid), complete));
  const keys = await readPickleAt(source, stateDict.end, (bytes, complete) => unpickle(bytes, { path, hooks: plainHooks(path), complete }));
  const records = await locateStorages(source, storageKeys(path, keys.value), storages, keys.end);
  const entries = new Map<string, TensorEntry>();
  for (const [name, record] of stateDict.tensors) entries.set(name, tensorEntry(path, name, record, records.get(record.storage.key)!));
  return new EntryReader('pytorch-legacy', path, entries, () => source.close());
}

type Unpickled = { end: number };

/** Runs one pickle starting at `offset`, reading a window that grows only as far as the pickle needs. */
async function readPickleAt<T extends Unpickled>(source: ByteSource, offset: number, run: (bytes: Uint8Array, complete: boolean) => T): Promise<T & { end: number }> {
  const left = source.size - offset;
  let window = Math.min(left, 64 * 1024);
  for (;;) {
    const complete = window === left;
    try {
      const result = run(await source.read(offset, window), complete);
      return { ...result, end: offset + result.end };
    } catch (error) {
      if (!(error instanceof PickleNeedsMoreBytes)) throw error;
      if (window >= maxPicklePayload) throw invalid(source.path, `pickle at byte ${offset} is longer than the ${maxPicklePayload}-byte limit for a state dict`);
      window = Math.min(left, maxPicklePayload, Math.max(window * 2, error.needed));
    }
  }
}

function checkSysInfo(path: string, value: unknown): void {
  if (!(value instanceof Map)) throw invalid(path, 'legacy PyTorch file has no sys_info record');
  if (value.get('little_endian') === false) throw invalid(path, 'checkpoint was saved big-endian; Curator reads little-endian checkpoints only (re-save it on a little-endian machine)');
  if (value.get('little_endian') !== true) throw invalid(path, 'legacy PyTorch sys_info does not say little_endian');
}

function legacyStorage(path: string, storages: Map<string, StorageRef>, pid: unknown): StorageRef {
  const { dtype, key, numel, view } = storagePid(path, pid);
  if (view !== null && view !== undefined) throw invalid(path, `storage ${key} is a storage view (written by PyTorch before 1.0), which Curator does not read`);
  const known = storages.get(key);
  if (known && known.dtype !== dtype) throw invalid(path, `storage ${key} is described with two dtypes (${known.dtype}, ${dtype})`);
  const storage = known ?? { key, dtype, numel };
  storages.set(key, storage);
  return storage;
}

function storageKeys(path: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((key) => typeof key === 'string')) throw invalid(path, 'legacy PyTorch file has no list of storage keys after the state dict');
  return value as string[];
}

/** Walks the storage area once (8 bytes per storage): each record is its element count then its bytes. */
async function locateStorages(source: ByteSource, keys: string[], storages: Map<string, StorageRef>, start: number): Promise<Map<string, RecordBytes>> {
  const records = new Map<string, RecordBytes>();
  let position = start;
  for (const key of keys) {
    const storage = storages.get(key);
    if (records.has(key)) throw invalid(source.path, `storage key ${key} is listed twice`);
    if (!storage) throw invalid(source.path, `storage key ${key} is listed but no tensor uses it, so its element size is unknown`);
    const count = await readCount(source, position, key);
    if (count !== storage.numel) throw invalid(source.path, `storage ${key} holds ${count} elements but the pickle says ${storage.numel}`);
    const byteLength = count * dtypeSizes[storage.dtype];
    const dataStart = position + 8;
    if (dataStart + byteLength > source.size) throw invalid(source.path, `storage ${key} needs ${byteLength} bytes at ${dataStart} but the file ends at ${source.size} (truncated?)`);
    records.set(key, { name: key, byteLength, read: (offset, length) => source.read(dataStart + offset, length) });
    position = dataStart + byteLength;
  }
  for (const key of storages.keys()) if (!records.has(key)) throw invalid(source.path, `storage ${key} is used by a tensor but missing from the storage list`);
  return records;
}

async function readCount(source: ByteSource, position: number, key: string): Promise<number> {
  if (position + 8 > source.size) throw invalid(source.path, `file ends before storage ${key} (truncated?)`);
  const bytes = await source.read(position, 8);
  const count = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true);
  if (count < 0n || count > BigInt(source.size)) throw invalid(source.path, `storage ${key} claims ${count} elements, more than the file could hold`);
  return Number(count);
}
