import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { diffusersReferenceDir } from '@curator/reference';
import { openCheckpoint, openFileSource, readSafetensorsHeader, type ByteSource } from '../src/index.ts';
import { assertReadsExpected, expected, fixture } from './expected.ts';

describe('safetensors reader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-safetensors-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const file of ['dtypes.safetensors', 'module.safetensors']) {
    it(`reads ${file} (written by safetensors.torch.save_file) to PyTorch's values`, async () => {
      const reader = await openCheckpoint(fixture(file));
      try {
        assert.equal(reader.format, 'safetensors');
        await assertReadsExpected(reader, expected.files[file]!);
      } finally {
        await reader.close();
      }
    });
  }

  it('reads the header metadata', async () => {
    const source = await openFileSource(fixture('dtypes.safetensors'));
    try {
      const header = await readSafetensorsHeader(source);
      assert.deepEqual(header.metadata, { format: 'pt', made_by: 'make_fixtures.py' });
    } finally {
      await source.close();
    }
  });

  it("reads diffusers' weights file: every tensor, float32 of the declared shape", async () => {
    const reader = await openCheckpoint(join(diffusersReferenceDir, 'tiny-vae', 'weights.safetensors'));
    try {
      const tensors = reader.tensors();
      assert.ok(tensors.length > 10);
      for (const info of tensors) {
        const values = await reader.readFloat32(info.name);
        assert.equal(values.length, info.shape.reduce((a, b) => a * b, 1), info.name);
      }
    } finally {
      await reader.close();
    }
  });

  it('reads one tensor without touching the bytes of the others (streamed)', async () => {
    const reads: [number, number][] = [];
    const file = await openFileSource(fixture('module.safetensors'));
    const counting: ByteSource = {
      path: file.path,
      size: file.size,
      read: (offset, length) => {
        reads.push([offset, length]);
        return file.read(offset, length);
      },
      close: () => file.close(),
    };
    const reader = await openCheckpoint(counting);
    try {
      const header = reads.reduce((sum, [, length]) => sum + length, 0);
      reads.length = 0;
      const values = await reader.readFloat32('proj.weight');
      assert.equal(values.length, 12);
      assert.deepEqual(reads.map(([, length]) => length), [48], 'exactly the 48 bytes of proj.weight');
      assert.ok(header < 1000, 'opening reads the header only');
    } finally {
      await reader.close();
    }
  });

  it('still yields the first tensor when a later tensor holds garbage', async () => {
    const bytes = buildSafetensors({ first: [1, 2, 3], second: [4, 5] });
    bytes.fill(0xff, bytes.length - 8); // the second tensor's bytes become NaNs
    const path = join(dir, 'garbage-tail.safetensors');
    await writeFile(path, bytes);
    const reader = await openCheckpoint(path);
    try {
      assert.deepEqual([...(await reader.readFloat32('first'))], [1, 2, 3]);
      assert.ok((await reader.readFloat32('second')).every(Number.isNaN));
    } finally {
      await reader.close();
    }
  });

  for (const [file, problem] of [
    ['huge-header.safetensors', /header claims \d+ bytes, over the 100000000-byte limit/],
    ['header-past-end.safetensors', /header claims 10000 bytes but the file has only \d+/],
    ['offsets-short.safetensors', /tensor x F32\[4\] needs 16 bytes but data_offsets span 8/],
  ] as const) {
    it(`refuses the hostile ${file}`, async () => {
      assert.ok(expected.hostile[file]);
      await assert.rejects(openCheckpoint(fixture('hostile', file)), { code: 'checkpoint_invalid', message: problem });
    });
  }

  const malformed: [string, (bytes: Uint8Array) => Uint8Array, RegExp][] = [
    ['an unknown dtype', () => withHeader({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /dtype "F8_E4M3", which Curator does not read/],
    ['a negative dimension', () => withHeader({ x: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, 1), /bad shape \[-1\]/],
    ['overlapping tensors', () => withHeader({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] } }, 3), /overlaps the tensor before it/],
    ['a gap between tensors', () => withHeader({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, b: { dtype: 'U8', shape: [1], data_offsets: [2, 3] } }, 3), /leaves a gap of 1 bytes/],
    ['data past the end of the file', () => withHeader({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /needs 16 bytes but the file has only 8/],
    ['bytes belonging to no tensor', () => withHeader({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 5), /4 bytes after the last tensor/],
    ['metadata that is not strings', () => withHeader({ __metadata__: { n: 1 } }, 0), /__metadata__\.n is not a string/],
    ['a header that is not JSON', (bytes) => { bytes[12] = 0x00; return bytes; }, /not valid UTF-8 JSON/],
    ['an entry that is not an object', () => withHeader({ x: 5 }, 0), /entry x is not an object/],
  ];
  for (const [what, make, problem] of malformed) {
    it(`refuses a header with ${what}`, async () => {
      const path = join(dir, 'malformed.safetensors');
      await writeFile(path, make(buildSafetensors({ x: [1] })));
      await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: problem });
    });
  }

  it('refuses a file that is no checkpoint at all', async () => {
    const path = join(dir, 'text.bin');
    await writeFile(path, 'hello, I am not a checkpoint');
    await assert.rejects(openCheckpoint(path), { code: 'checkpoint_invalid', message: /not a checkpoint Curator reads/ });
  });

  it('the fixture file is what the safetensors library wrote (sanity of the test data)', () => {
    const bytes = readFileSync(fixture('dtypes.safetensors'));
    assert.equal(bytes[8], 0x7b);
  });
});

/** A minimal safetensors file of F32 vectors, laid out as the format says. */
function buildSafetensors(tensors: Record<string, number[]>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, values] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: [values.length], data_offsets: [offset, offset + values.length * 4] };
    offset += values.length * 4;
  }
  const data = new Float32Array(Object.values(tensors).flat());
  return withHeader(header, 0, new Uint8Array(data.buffer));
}

function withHeader(header: Record<string, unknown>, dataLength: number, data = new Uint8Array(dataLength)): Uint8Array {
  return rawHeader(JSON.stringify(header), data);
}

function rawHeader(json: string, data = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + text.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  return bytes;
}
