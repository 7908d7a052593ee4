import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openCheckpoint, openFileSource, type CheckpointReader } from '../src/index.ts';
import { readZipDirectory } from '../src/zip.ts';
import { assertReadsExpected, expected, fixture } from './expected.ts';

async function withReader<T>(path: string, use: (reader: CheckpointReader) => Promise<T>): Promise<T> {
  const reader = await openCheckpoint(path);
  try {
    return await use(reader);
  } finally {
    await reader.close();
  }
}

describe('PyTorch checkpoints written by torch.save', () => {
  it('reads a file saved with CRC-32s switched off (torch.serialization.set_crc32_options(False))', async () => {
    await withReader(fixture('dtypes.nocrc.zip.bin'), (reader) => assertReadsExpected(reader, expected.files['dtypes.nocrc.zip.bin']!));
  });

  for (const stem of ['dtypes', 'views', 'module', 'parameters']) {
    for (const [form, format] of [
      ['zip', 'pytorch-zip'],
      ['legacy', 'pytorch-legacy'],
    ] as const) {
      const file = `${stem}.${form}.bin`;
      it(`reads ${file} to PyTorch's values`, async () => {
        await withReader(fixture(file), async (reader) => {
          assert.equal(reader.format, format);
          await assertReadsExpected(reader, expected.files[file]!);
        });
      });
    }
  }

  it('reads a zip whose records were recompressed with DEFLATE (inflated as a stream)', async () => {
    const source = await openFileSource(fixture('dtypes.deflated.zip.bin'));
    const methods = [...(await readZipDirectory(source)).values()].map((entry) => entry.method);
    await source.close();
    assert.ok(methods.every((method) => method === 8), 'every record is deflated');
    await withReader(fixture('dtypes.deflated.zip.bin'), (reader) => assertReadsExpected(reader, expected.files['dtypes.deflated.zip.bin']!));
  });

  it('honors strides and offsets: a transposed view equals the transpose of its base', async () => {
    await withReader(fixture('views.zip.bin'), async (reader) => {
      const base = await reader.readFloat32('base'); // [4, 6]
      const transposed = await reader.readFloat32('transposed'); // [6, 4]
      const columns = await reader.readFloat32('columns'); // base[:, 2:5]
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 6; c++) assert.equal(transposed[c * 4 + r], base[r * 6 + c]);
        for (let c = 0; c < 3; c++) assert.equal(columns[r * 3 + c], base[r * 6 + c + 2]);
      }
    });
  });

  it('two tensors over one storage at different offsets read their own elements', async () => {
    await withReader(fixture('views.legacy.bin'), async (reader) => {
      // flat = arange(24) / 8; tied_first = flat[0:12], tied_second = flat[8:20]
      assert.deepEqual([...(await reader.readFloat32('tied_first'))], Array.from({ length: 12 }, (_, i) => i / 8));
      assert.deepEqual([...(await reader.readFloat32('tied_second'))], Array.from({ length: 12 }, (_, i) => (i + 8) / 8));
      assert.deepEqual(await reader.readFloat32('embedding.weight'), await reader.readFloat32('lm_head.weight'));
    });
  });

  it("gives the module's tensor names exactly as state_dict() has them (OrderedDict _metadata ignored)", async () => {
    await withReader(fixture('module.zip.bin'), async (reader) => {
      assert.deepEqual(
        reader.tensors().map((t) => t.name),
        expected.files['module.zip.bin']!.map((t) => t.name),
      );
      assert.deepEqual(reader.info('bn.num_batches_tracked'), { name: 'bn.num_batches_tracked', dtype: 'I64', shape: [] });
    });
  });

  it('refuses to read a tensor that is not there, naming it', async () => {
    await withReader(fixture('dtypes.zip.bin'), async (reader) => {
      assert.equal(reader.info('missing.weight'), undefined);
      await assert.rejects(reader.readFloat32('missing.weight'), { code: 'checkpoint_invalid', message: /no tensor named missing\.weight/ });
    });
  });

  const hostile: [string, RegExp][] = [
    ['posix-system.zip.bin', /posix\.system is not allowed in a checkpoint: a checkpoint never runs code/],
    ['posix-system.legacy.bin', /posix\.system is not allowed in a checkpoint: a checkpoint never runs code/],
    ['builtins-eval.zip.bin', /__builtin__\.eval is not allowed in a checkpoint/],
    ['truncated.zip.bin', /not a complete zip archive: no end-of-central-directory record \(truncated\?\)/],
    ['short-storage.zip.bin', /storage record data\/0 has 3 bytes but the pickle says 12 F32 elements \(48 bytes\)/],
    ['big-endian.zip.bin', /saved big-endian/],
    ['huge-pickle-length.zip.bin', /pickle wants 4294967280 bytes but only 4 are left/],
  ];
  for (const [file, problem] of hostile) {
    it(`refuses the hostile ${file}, naming the problem`, async () => {
      assert.ok(expected.hostile[file], 'the fixture script made this file');
      await assert.rejects(openCheckpoint(fixture('hostile', file)), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'checkpoint_invalid');
        assert.match(error.message, problem);
        assert.ok(error.message.startsWith(fixture('hostile', file)), 'the message names the file');
        return true;
      });
    });
  }
});
