import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpoint, writeSafetensors, writeTorchCheckpoint, type CheckpointReader, type NamedTensor, type WriteProgress } from '../src/index.ts';
import { openFileSource } from '../src/byte-source.ts';
import { readZipDirectory } from '../src/zip.ts';
import { assertReadsExpected, expected, fixture } from './expected.ts';

/** Every tensor of a reader as a NamedTensor whose bytes are read when the writer asks. */
function lazyTensors(reader: CheckpointReader): NamedTensor[] {
  return reader.tensors().map((info) => ({ ...info, data: async () => (await reader.readRaw(info.name)).bytes }));
}

async function reopen(path: string, check: (reader: CheckpointReader) => Promise<void>): Promise<void> {
  const reader = await openCheckpoint(path);
  try {
    await check(reader);
  } finally {
    await reader.close();
  }
}

describe('writers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-writers-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const file of ['dtypes.zip.bin', 'views.legacy.bin', 'module.safetensors', 'parameters.zip.bin']) {
    it(`rewrites ${file} with both writers and reads back PyTorch's values`, async () => {
      const source = await openCheckpoint(fixture(file));
      try {
        const tensors = lazyTensors(source);
        await writeTorchCheckpoint(join(dir, 'pytorch_model.bin'), tensors);
        await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
      } finally {
        await source.close();
      }
      await reopen(join(dir, 'pytorch_model.bin'), async (reader) => {
        assert.equal(reader.format, 'pytorch-zip');
        await assertReadsExpected(reader, expected.files[file]!);
      });
      await reopen(join(dir, 'model.safetensors'), async (reader) => {
        assert.equal(reader.format, 'safetensors');
        await assertReadsExpected(reader, expected.files[file]!);
      });
    });
  }

  it('keeps the order tensors were given, and takes eager data from a generator', async () => {
    function* tensors(): Generator<NamedTensor> {
      yield { name: 'z.weight', dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
      yield { name: '0', dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) };
      yield { name: 'a.scalar', dtype: 'I64', shape: [], data: new Uint8Array(new BigInt64Array([-5n]).buffer) };
    }
    for (const [path, write] of [
      [join(dir, 'order.safetensors'), (p: string) => writeSafetensors(p, tensors())],
      [join(dir, 'order.bin'), (p: string) => writeTorchCheckpoint(p, tensors())],
    ] as const) {
      await write(path);
      await reopen(path, async (reader) => {
        assert.deepEqual(reader.tensors().map((t) => t.name), ['z.weight', '0', 'a.scalar']);
        assert.deepEqual([...(await reader.readFloat32('z.weight'))], [1, 2, 3, 4]);
        assert.deepEqual([...(await reader.readRaw('0')).bytes], [7, 8, 9]);
        assert.deepEqual(reader.info('a.scalar'), { name: 'a.scalar', dtype: 'I64', shape: [] });
      });
    }
  });

  it('aligns every torch record to 64 bytes and the safetensors data to 8, as the reference writers do', async () => {
    const tensors: NamedTensor[] = [
      { name: 'odd', dtype: 'U8', shape: [3], data: new Uint8Array(3) },
      { name: 'next', dtype: 'F32', shape: [5], data: new Float32Array(5) },
    ];
    await writeTorchCheckpoint(join(dir, 'aligned.bin'), tensors);
    const source = await openFileSource(join(dir, 'aligned.bin'));
    try {
      const bytes = await readFile(join(dir, 'aligned.bin'));
      for (const entry of (await readZipDirectory(source)).values()) {
        const at = entry.localHeaderOffset;
        const dataStart = at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28);
        assert.equal(dataStart % 64, 0, entry.name);
      }
      assert.deepEqual([...(await readZipDirectory(source)).keys()].filter((n) => !n.includes('/data/')), [
        'aligned/data.pkl',
        'aligned/.format_version',
        'aligned/.storage_alignment',
        'aligned/byteorder',
        'aligned/version',
        'aligned/.data/serialization_id',
      ]);
    } finally {
      await source.close();
    }
    await writeSafetensors(join(dir, 'aligned.safetensors'), tensors);
    const header = await readFile(join(dir, 'aligned.safetensors'));
    assert.equal(Number(header.readBigUInt64LE(0)) % 8, 0);
  });

  it('reports progress per tensor', async () => {
    const seen: WriteProgress[] = [];
    const tensors: NamedTensor[] = [
      { name: 'a', dtype: 'F16', shape: [2], data: new Uint8Array(4) },
      { name: 'b', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ];
    await writeTorchCheckpoint(join(dir, 'progress.bin'), tensors, { onProgress: (p) => seen.push(p) });
    await writeSafetensors(join(dir, 'progress.safetensors'), tensors, undefined, { onProgress: (p) => seen.push(p) });
    const expectedProgress = [
      { name: 'a', tensors: 1, bytes: 4 },
      { name: 'b', tensors: 2, bytes: 8 },
    ];
    assert.deepEqual(seen, [...expectedProgress, ...expectedProgress]);
  });

  const wrong: [string, NamedTensor[], RegExp][] = [
    ['data of the wrong length', [{ name: 'w', dtype: 'F32', shape: [3], data: new Float32Array(2) }], /w F32\[3\] needs 12 bytes, got 8/],
    ['a Float32Array for F16', [{ name: 'h', dtype: 'F16', shape: [2], data: new Float32Array(1) }], /h is F16 but its data is a Float32Array/],
    ['a name given twice', [{ name: 'd', dtype: 'U8', shape: [], data: new Uint8Array(1) }, { name: 'd', dtype: 'U8', shape: [], data: new Uint8Array(1) }], /d is given twice/],
    ['an unknown dtype', [{ name: 'q', dtype: 'Q4' as 'U8', shape: [1], data: new Uint8Array(1) }], /unknown dtype Q4/],
    ['a bad shape', [{ name: 's', dtype: 'U8', shape: [-1], data: new Uint8Array(0) }], /bad shape \[-1\]/],
  ];
  for (const [what, tensors, problem] of wrong) {
    it(`refuses ${what} and leaves no file behind`, async () => {
      const before = await readdir(dir);
      await assert.rejects(writeTorchCheckpoint(join(dir, 'refused.bin'), tensors), problem);
      await assert.rejects(writeSafetensors(join(dir, 'refused.safetensors'), tensors), problem);
      assert.deepEqual(await readdir(dir), before);
    });
  }
});
