// PyTorch zips damaged in ways the fixtures do not cover: made here from a real torch file (patched
// bytes) or with Curator's own zip and pickle writers (a pickle that lies about its storages).
import assert from 'node:assert/strict';
import { open, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpoint } from '../src/index.ts';
import { FileSink } from '../src/file-sink.ts';
import { pickleStateDict, type PickledTensor } from '../src/pickle-writer.ts';
import { ZipWriter } from '../src/zip-writer.ts';
import { fixture } from './expected.ts';

/** Offset of the central directory entry for the record whose name ends with `suffix`. */
function centralEntryOffset(bytes: Buffer, suffix: string): number {
  for (let at = bytes.lastIndexOf(Buffer.from('PK\x01\x02', 'latin1')); at >= 0; at = bytes.lastIndexOf(Buffer.from('PK\x01\x02', 'latin1'), at - 1)) {
    const name = bytes.subarray(at + 46, at + 46 + bytes.readUInt16LE(at + 28)).toString();
    if (name.endsWith(suffix)) return at;
  }
  throw new Error(`no central entry for ${suffix}`);
}

describe('damaged PyTorch zips', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-damaged-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function patched(source: string, patch: (bytes: Buffer) => void): Promise<string> {
    const bytes = await readFile(fixture(source));
    patch(bytes);
    const path = join(dir, `patched-${source}`);
    await writeFile(path, bytes);
    return path;
  }

  it('refuses a DEFLATE record that inflates past its declared size (a zip bomb)', async () => {
    const path = await patched('dtypes.deflated.zip.bin', (bytes) => bytes.writeUInt32LE(100, centralEntryOffset(bytes, '/data.pkl') + 24));
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /data\.pkl inflates past its declared 100 bytes/ });
  });

  it('refuses a record whose local header is not where the directory says', async () => {
    const path = await patched('dtypes.zip.bin', (bytes) => {
      const at = centralEntryOffset(bytes, '/data/3');
      bytes.writeUInt32LE(bytes.readUInt32LE(at + 42) + 7, at + 42);
    });
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /data\/3 has no local header where the directory says/ });
  });

  it('refuses a record compressed with a method it does not know', async () => {
    const path = await patched('dtypes.zip.bin', (bytes) => bytes.writeUInt16LE(14, centralEntryOffset(bytes, '/data/0') + 10));
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /uses compression method 14/ });
  });

  it('refuses a zip without data.pkl', async () => {
    const path = await patched('dtypes.zip.bin', (bytes) => {
      const at = centralEntryOffset(bytes, '/data.pkl');
      bytes.write('x', at + 46 + bytes.readUInt16LE(at + 28) - 1, 'latin1'); // data.pkl -> data.pkx
    });
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /no <archive>\/data\.pkl: not a PyTorch checkpoint/ });
  });

  /** A torch zip whose pickle says what `tensors` say, with records of the given sizes. */
  async function zipWith(tensors: PickledTensor[], records: Record<string, number>): Promise<string> {
    const path = join(dir, 'lying.bin');
    const handle = await open(path, 'w');
    try {
      const zip = new ZipWriter(new FileSink(handle));
      await zip.addBytes('lying/data.pkl', pickleStateDict(tensors));
      for (const [key, size] of Object.entries(records)) await zip.addBytes(`lying/data/${key}`, new Uint8Array(size));
      await zip.finish();
    } finally {
      await handle.close();
    }
    return path;
  }

  it('refuses a tensor that reaches past the storage the pickle declares', async () => {
    const path = await zipWith([{ name: 'w', dtype: 'F32', shape: [4, 4], storageKey: '0', numel: 10 }], { '0': 64 });
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /tensor w needs elements 0\.\.16 of storage 0 \(64 bytes\) but the storage holds 40 bytes/ });
  });

  it('refuses a storage whose record is missing', async () => {
    const path = await zipWith([{ name: 'w', dtype: 'F16', shape: [2], storageKey: '7', numel: 2 }], { '0': 4 });
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /storage 7 has no record lying\/data\/7 in the zip/ });
  });

  it('reads two tensors over one storage key as views of the same bytes', async () => {
    const path = await zipWith(
      [
        { name: 'a', dtype: 'U8', shape: [4], storageKey: '0', numel: 4 },
        { name: 'b', dtype: 'U8', shape: [2, 2], storageKey: '0', numel: 4 },
      ],
      { '0': 4 },
    );
    const reader = await openCheckpoint(path);
    try {
      assert.deepEqual(reader.tensors(), [
        { name: 'a', dtype: 'U8', shape: [4] },
        { name: 'b', dtype: 'U8', shape: [2, 2] },
      ]);
    } finally {
      await reader.close();
    }
  });
});
