import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { checkModels, readConversionRecord } from '@curator/models';
import { ImageGenerator } from '@curator/diffusion';
import { describeMissingModels, registerModelsCommand } from '../src/commands/models.ts';

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text, clear: () => (text = '') };
}

describe('models command', () => {
  let root: string;
  let modelsDir: string;
  let source: string;
  const out = collector();
  const err = collector();

  const run = async (...args: string[]) => {
    out.clear();
    err.clear();
    const program = new Command('curator').exitOverride().configureOutput({ writeOut: (s) => out.stream.write(s), writeErr: (s) => err.stream.write(s) });
    registerModelsCommand(program, { stdout: out.stream, stderr: err.stream, env: { MODELS_DIR: modelsDir } });
    await program.parseAsync(['models', ...args], { from: 'user' });
    return out.text();
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'curator-cli-models-'));
    modelsDir = join(root, 'models');
    source = join(root, 'export');
    // A folder laid out like MODELS_DIR holding the genre model (tiny stand-in bytes).
    const genre = join(source, 'abhishek', 'autonlp-bbc-news-classification-37229289');
    await mkdir(genre, { recursive: true });
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) await writeFile(join(genre, name), '{}');
    await writeFile(join(genre, 'model.onnx'), Buffer.alloc(3000, 7));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('pull copies converted files from a folder laid out like MODELS_DIR, logging plain lines off a terminal', async () => {
    const text = await run('pull', '--only', 'genre', '--from', source);
    assert.match(text, /genre: pulling abhishek\/autonlp-bbc-news-classification-37229289/);
    assert.match(text, /model\.onnx: done, 2\.9 KiB/);
    assert.match(text, /fetched into /);
    assert.deepEqual(await readFile(join(modelsDir, 'abhishek', 'autonlp-bbc-news-classification-37229289', 'model.onnx')), Buffer.alloc(3000, 7));
  });

  it('a second pull says there is nothing to do', async () => {
    const text = await run('pull', '--only', 'genre', '--from', source);
    assert.match(text, /already present/);
    assert.match(text, /Nothing to do/);
  });

  it('list shows every role with its state', async () => {
    const text = await run('list');
    const genreLine = text.split('\n').find((line) => line.startsWith('genre'));
    assert.ok(genreLine, text);
    assert.match(genreLine, /fp32\s+2\.9 KiB\s+(unpinned|unchecked)/);
    assert.match(text.split('\n').find((line) => line.startsWith('summarizer')) ?? '', /missing/);
    const rows = JSON.parse(await run('list', '--json', '--verify')) as { role: string; status: string }[];
    assert.equal(rows.find((r) => r.role === 'genre')?.status, 'unpinned', 'no sha256 is recorded for files converted elsewhere');
  });

  it('an unknown role fails with a message', async () => {
    await assert.rejects(run('pull', '--only', 'poetry', '--from', source), (error) => error instanceof CommanderError && error.exitCode === 1);
    assert.match(err.text(), /unknown role/);
  });

  it('a failed pull names the missing file and exits non-zero', async () => {
    await assert.rejects(run('pull', '--only', 'sentiment', '--from', source), (error) => error instanceof CommanderError && error.exitCode === 1);
    assert.match(err.text(), /bertweet-base-sentiment-analysis.*not found/s);
  });

  it('export --dry-run prints the docker recipe', async () => {
    const text = await run('export', '--dry-run', '--only', 'sentiment');
    assert.match(text, /docker build -f docker\/models\.Dockerfile/);
    assert.match(text, /--only sentiment/);
  });
});

describe('models prepare with CURATOR_MODELS=test', () => {
  it('writes the test set through the converter, and the image role loads fp16 from a folder laid out like the real repo', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'curator-cli-prepare-'));
    const out = collector();
    const program = new Command('curator').exitOverride();
    registerModelsCommand(program, { stdout: out.stream, stderr: out.stream, env: { MODELS_DIR: modelsDir, CURATOR_MODELS: 'test', CURATOR_DEVICE: 'cpu' } });
    await program.parseAsync(['models', 'prepare', '--only', 'image', '--precision', 'fp32,fp16'], { from: 'user' });
    const text = out.text();
    assert.match(text, /image: writing the test checkpoint \(12 files\)/);
    assert.match(text, /image: converted curator-test\/image to fp16 in [\d.]+ s/);
    assert.match(text, /unet\/model_fp16\.onnx .* sha256 [0-9a-f]{64}/);
    const dir = join(modelsDir, 'curator-test', 'image');
    assert.deepEqual(Object.keys((await readConversionRecord(dir))!.conversions).sort(), ['fp16', 'fp32']);
    // Stable Diffusion's tokenizer/ has vocab.json + merges.txt and no tokenizer.json, as the real repo.
    await assert.rejects(readFile(join(dir, 'tokenizer', 'tokenizer.json')), { code: 'ENOENT' });
    const images = await ImageGenerator.load({ modelDir: dir, modelId: 'curator-test/image', precision: 'fp16' });
    try {
      assert.equal(images.info.precision, 'fp16');
      const result = await images.generate({ prompt: 'a harbour at dawn', steps: 2, width: 64, height: 64, seed: 1 });
      assert.equal(result.images.length, 1);
      assert.equal(result.images[0]!.width, 64);
    } finally {
      await images.close();
      await rm(modelsDir, { recursive: true, force: true });
    }
  });
});

describe('describeMissingModels', () => {
  it('names the missing models, the prepare command and the test-model way out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-cli-missing-'));
    const message = describeMissingModels(await checkModels({ modelsDir: dir, roles: ['summarizer', 'image'] }));
    assert.match(message, /2 models are missing/);
    assert.match(message, /summarizer: google-t5\/t5-small/);
    assert.match(message, /image: OFA-Sys\/small-stable-diffusion-v0/);
    assert.match(message, /npm run curator -- models prepare/);
    assert.match(message, /CURATOR_MODELS=test/);
    await rm(dir, { recursive: true, force: true });
  });
});
