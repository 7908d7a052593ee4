// torch.save's default format since PyTorch 1.6: a zip holding <archive>/data.pkl (the state dict,
// whose tensors name storages by key), <archive>/data/<key> (each storage's raw bytes), and
// <archive>/byteorder.
import type { ByteSource, RecordBytes } from './byte-source.ts';
import { dtypeSizes } from './dtype.ts';
import { EntryReader, type TensorEntry } from './entries.ts';
import { invalid } from './errors.ts';
import { tensorEntry } from './strided.ts';
import { storagePid, unpickleStateDict, type StorageRef } from './torch-pickle.ts';
import { openZipRecord, readZipDirectory, type ZipEntry } from './zip.ts';

// A state dict's pickle is kilobytes (names, shapes, storage keys); a bigger one is not a state dict.
export const maxPicklePayload = 64 * 1024 * 1024;

export async function openTorchZip(source: ByteSource): Promise<EntryReader> {
  const entries = await readZipDirectory(source);
  const archive = findArchive(source.path, entries);
  await checkByteOrder(source, entries, archive);
  const pickle = await readPickle(source, entries.get(`${archive}/data.pkl`)!);
  const storages = new Map<string, StorageRef>();
  const { tensors } = unpickleStateDict(source.path, pickle, (pid) => zipStorage(source.path, storages, pid));
  const records = await openStorages(source, entries, archive, storages);
  const tensorEntries = new Map<string, TensorEntry>();
  for (const [name, record] of tensors) tensorEntries.set(name, tensorEntry(source.path, name, record, records.get(record.storage.key)!));
  return new EntryReader('pytorch-zip', source.path, tensorEntries, () => source.close());
}

/** The folder all records live in: torch names it after the file (`archive/` in older versions). */
function findArchive(path: string, entries: Map<string, ZipEntry>): string {
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) throw invalid(path, pickles.length === 0 ? 'zip has no <archive>/data.pkl: not a PyTorch checkpoint' : 'zip has more than one data.pkl');
  return pickles[0]!.slice(0, -'/data.pkl'.length);
}

async function checkByteOrder(source: ByteSource, entries: Map<string, ZipEntry>, archive: string): Promise<void> {
  const entry = entries.get(`${archive}/byteorder`);
  if (!entry) return; // written since PyTorch 1.13; before that files were little-endian
  if (entry.size > 16) throw invalid(source.path, 'byteorder record is not "little" or "big"');
  const record = await openZipRecord(source, entry);
  const order = new TextDecoder().decode(await record.read(0, record.byteLength));
  if (order === 'big') throw invalid(source.path, 'checkpoint was saved big-endian; Curator reads little-endian checkpoints only (re-save it on a little-endian machine)');
  if (order !== 'little') throw invalid(source.path, `byteorder record says ${JSON.stringify(order)}, not "little"`);
}

async function readPickle(source: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  if (entry.size > maxPicklePayload) throw invalid(source.path, `data.pkl is ${entry.size} bytes, over the ${maxPicklePayload}-byte limit for a state dict`);
  const record = await openZipRecord(source, entry);
  return record.read(0, record.byteLength);
}

/** One reference per storage key, however many tensors share it. */
function zipStorage(path: string, storages: Map<string, StorageRef>, pid: unknown): StorageRef {
  const { dtype, key, numel } = storagePid(path, pid);
  const known = storages.get(key);
  if (known) {
    if (known.numel * dtypeSizes[known.dtype] !== numel * dtypeSizes[dtype]) throw invalid(path, `storage ${key} is described with two different sizes`);
    return known.dtype === dtype ? known : { key, dtype, numel };
  }
  const storage = { key, dtype, numel };
  storages.set(key, storage);
  return storage;
}

/** Locates every storage's record and checks it holds what the pickle says, before any tensor is read. */
async function openStorages(source: ByteSource, entries: Map<string, ZipEntry>, archive: string, storages: Map<string, StorageRef>): Promise<Map<string, RecordBytes>> {
  const records = new Map<string, RecordBytes>();
  for (const storage of storages.values()) {
    const entry = entries.get(`${archive}/data/${storage.key}`);
    if (!entry) throw invalid(source.path, `storage ${storage.key} has no record ${archive}/data/${storage.key} in the zip`);
    const needed = storage.numel * dtypeSizes[storage.dtype];
    if (entry.size < needed) {
      throw invalid(source.path, `storage record data/${storage.key} has ${entry.size} bytes but the pickle says ${storage.numel} ${storage.dtype} elements (${needed} bytes)`);
    }
    records.set(storage.key, await openZipRecord(source, entry));
  }
  return records;
}
