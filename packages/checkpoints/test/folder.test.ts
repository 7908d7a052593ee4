import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpointFolder, type CheckpointReader } from '../src/index.ts';
import { assertReadsExpected, expected, fixture } from './expected.ts';

describe('checkpoint folders', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'curator-folder-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A folder holding fixture files under the names a model repository uses. */
  async function folder(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(root, 'model-'));
    for (const [name, source] of Object.entries(files)) await copyFile(fixture(source), join(dir, name));
    return dir;
  }

  async function read(dir: string, check: (reader: CheckpointReader) => Promise<void>): Promise<void> {
    const reader = await openCheckpointFolder(dir);
    try {
      await check(reader);
    } finally {
      await reader.close();
    }
  }

  for (const shardFolder of ['sharded-safetensors', 'sharded-bin']) {
    it(`presents ${shardFolder} (huggingface_hub's shards + index) as one checkpoint`, async () => {
      await read(fixture(shardFolder), async (reader) => {
        assert.equal(reader.format, shardFolder === 'sharded-bin' ? 'pytorch-zip' : 'safetensors');
        assert.match(reader.path, /\.index\.json$/);
        await assertReadsExpected(reader, expected.folders[shardFolder]!);
      });
    });
  }

  it('prefers model.safetensors over pytorch_model.bin', async () => {
    const dir = await folder({ 'model.safetensors': 'module.safetensors', 'pytorch_model.bin': 'dtypes.zip.bin' });
    await read(dir, async (reader) => {
      assert.equal(reader.format, 'safetensors');
      await assertReadsExpected(reader, expected.files['module.safetensors']!);
    });
  });

  it('reads pytorch_model.bin in either PyTorch format', async () => {
    for (const source of ['module.zip.bin', 'module.legacy.bin']) {
      await read(await folder({ 'pytorch_model.bin': source, 'config.json': 'expected.json' }), (reader) => assertReadsExpected(reader, expected.files[source]!));
    }
  });

  it("reads diffusers' diffusion_pytorch_model files", async () => {
    await read(await folder({ 'diffusion_pytorch_model.bin': 'views.zip.bin' }), (reader) => assertReadsExpected(reader, expected.files['views.zip.bin']!));
    await read(await folder({ 'diffusion_pytorch_model.safetensors': 'dtypes.safetensors', 'diffusion_pytorch_model.bin': 'views.zip.bin' }), async (reader) => {
      assert.equal(reader.format, 'safetensors');
    });
  });

  it('refuses a folder without weights, saying what it looked for', async () => {
    const dir = await folder({ 'config.json': 'expected.json' });
    await assert.rejects(openCheckpointFolder(dir), { code: 'checkpoint_invalid', message: /no weights file \(looked for model\.safetensors, / });
  });

  async function indexFolder(index: unknown, shards: Record<string, string> = {}): Promise<string> {
    const dir = await folder(shards);
    await writeFile(join(dir, 'model.safetensors.index.json'), typeof index === 'string' ? index : JSON.stringify(index));
    return dir;
  }

  const badIndexes: [string, () => Promise<string>, RegExp][] = [
    ['a shard path outside the folder', () => indexFolder({ weight_map: { w: '../../etc/passwd' } }), /sends w to "\.\.\/\.\.\/etc\/passwd", which is not a file name in this folder/],
    ['a missing shard', () => indexFolder({ weight_map: { w: 'model-00001-of-00002.safetensors' } }), /names shard model-00001-of-00002\.safetensors, which is missing/],
    ['a tensor the shard does not hold', () => indexFolder({ weight_map: { 'proj.weight': 'a.safetensors', ghost: 'a.safetensors' } }, { 'a.safetensors': 'module.safetensors' }), /lists ghost in a\.safetensors, which does not hold it/],
    ['a tensor in two shards', () => indexFolder({ weight_map: { 'proj.weight': 'a.safetensors', 'norm.bias': 'b.safetensors' } }, { 'a.safetensors': 'module.safetensors', 'b.safetensors': 'module.safetensors' }), /is in more than one shard/],
    ['a tensor in another shard than it says', () => indexFolder({ weight_map: { 'f32.matrix': 'b.safetensors', 'proj.weight': 'a.safetensors' } }, { 'a.safetensors': 'dtypes.safetensors', 'b.safetensors': 'module.safetensors' }), /tensor f32\.matrix is in a\.safetensors but the index says b\.safetensors/],
    ['an index that is not JSON', () => indexFolder('{"weight_map":'), /index is not JSON/],
    ['an index without weight_map', () => indexFolder({ metadata: {} }), /no weight_map object/],
  ];
  for (const [what, make, problem] of badIndexes) {
    it(`refuses an index with ${what}`, async () => {
      const dir = await make();
      await assert.rejects(openCheckpointFolder(dir), { code: 'checkpoint_invalid', message: problem });
    });
  }

  it('a shard subfolder is a folder of its own, not searched', async () => {
    const dir = await mkdtemp(join(root, 'nested-'));
    await mkdir(join(dir, 'unet'));
    await copyFile(fixture('module.safetensors'), join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
    await assert.rejects(openCheckpointFolder(dir), { code: 'checkpoint_invalid' });
    await read(join(dir, 'unet'), (reader) => assertReadsExpected(reader, expected.files['module.safetensors']!));
  });
});
