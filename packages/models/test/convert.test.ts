// The converter on checkpoints transformers itself wrote (packages/reference/models): outputs,
// the conversion record, idempotence, refusals, and a model folder that is never half-converted.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from '@curator/inference/ort';
import { openCheckpoint, writeSafetensors, type NamedTensor } from '@curator/checkpoints';
import { isCuratorError } from '@curator/contracts';
import { modelsReferenceDir } from '@curator/reference';
import { conversionRecordFile, convertModel, listModels, parseManifest, readConversionRecord, sha256OfFile, type ConvertEvent, type ModelEntry } from '@curator/models';

const fixture = (model: string, file: string) => join(modelsReferenceDir, model, file);

function entry(role: 'sentiment' | 'summarizer', id: string, weights: string): ModelEntry {
  const builder = role === 'summarizer' ? 't5' : 'encoder-classifier';
  const outputs =
    builder === 't5'
      ? { fp32: [{ path: 'encoder_model.onnx', key: 'encoder' }, { path: 'decoder_model_merged.onnx', key: 'decoder' }], fp16: [{ path: 'encoder_model_fp16.onnx', key: 'encoder' }, { path: 'decoder_model_merged_fp16.onnx', key: 'decoder' }] }
      : { fp32: [{ path: 'model.onnx', key: 'model' }], fp16: [{ path: 'model_fp16.onnx', key: 'model' }] };
  return parseManifest({
    set: 'real',
    models: [{ role, id, revision: 'fixture', source: { kind: 'hub', repo: id }, shared: [{ path: 'config.json', key: 'config' }], weights: [{ path: weights, key: 'weights' }], conversion: { builder }, precisions: outputs }],
  }).models[0]!;
}

/** Copies a fixture's config and one weights file into MODELS_DIR/<id>, as a pull would leave them. */
async function place(modelsDir: string, model: ModelEntry, source: string): Promise<string> {
  const dir = join(modelsDir, ...model.id.split('/'));
  await mkdir(dir, { recursive: true });
  await copyFile(fixture(source, 'config.json'), join(dir, 'config.json'));
  await copyFile(fixture(source, model.weights[0]!.path), join(dir, model.weights[0]!.path));
  return dir;
}

async function int64s(path: string, name: string): Promise<{ data: BigInt64Array; dims: number[] }> {
  const reader = await openCheckpoint(path);
  try {
    const { info, bytes } = await reader.readRaw(name);
    return { data: new BigInt64Array(bytes.slice().buffer), dims: info.shape };
  } finally {
    await reader.close();
  }
}

async function float32s(path: string, name: string): Promise<Float32Array> {
  const reader = await openCheckpoint(path);
  try {
    return await reader.readFloat32(name);
  } finally {
    await reader.close();
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((max, v, i) => Math.max(max, Math.abs(v - b[i]!)), 0);

describe('convertModel', () => {
  let modelsDir: string;
  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'curator-convert-'));
  });
  after(() => rm(modelsDir, { recursive: true, force: true }));

  it("converts transformers' BERTweet-shaped pytorch_model.bin: the logits transformers recorded, a record with every sha256", async () => {
    const model = entry('sentiment', 'fixture/bertweet', 'pytorch_model.bin');
    const dir = await place(modelsDir, model, 'bertweet-tiny');
    const events: ConvertEvent[] = [];
    const result = await convertModel(model, modelsDir, { precisions: ['fp32', 'fp16'], onProgress: (e) => events.push(e) });
    assert.deepEqual(result.converted, ['fp32', 'fp16']);

    // Progress: each precision starts, reads every tensor once, and ends with its files' sha256.
    for (const precision of ['fp32', 'fp16'] as const) {
      const progress = events.filter((e): e is Extract<ConvertEvent, { type: 'convert-progress' }> => e.type === 'convert-progress' && e.precision === precision && e.phase === 'converting');
      const last = progress.at(-1)!;
      assert.equal(last.tensors, last.totalTensors);
      assert.equal(last.bytes, last.totalBytes);
      assert.ok(progress.every((e, i) => i === 0 || e.bytes >= progress[i - 1]!.bytes), 'bytes only grow');
      const done = events.find((e) => e.type === 'convert-done' && e.precision === precision);
      assert.ok(done && done.type === 'convert-done');
      for (const output of done.outputs) assert.equal(output.sha256, await sha256OfFile(join(dir, output.path)));
    }

    const record = await readConversionRecord(dir);
    assert.ok(record);
    assert.equal(record.builder, 'encoder-classifier');
    assert.match(record.builderVersion, /^sha256:[0-9a-f]{16}$/);
    assert.deepEqual(Object.keys(record.sources).sort(), ['config.json', 'pytorch_model.bin']);
    assert.equal(record.sources['pytorch_model.bin']!.sha256, await sha256OfFile(fixture('bertweet-tiny', 'pytorch_model.bin')));
    assert.deepEqual(Object.keys(record.conversions.fp32!.outputs), ['model.onnx']);
    assert.equal(record.conversions.fp32!.outputs['model.onnx']!.sha256, await sha256OfFile(join(dir, 'model.onnx')));

    const outputs = fixture('bertweet-tiny', 'outputs.safetensors');
    const ids = await int64s(outputs, 'input_ids');
    const mask = await int64s(outputs, 'attention_mask');
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const logits = (await session.run({ input_ids: new ort.Tensor('int64', ids.data, ids.dims), attention_mask: new ort.Tensor('int64', mask.data, mask.dims) })).logits!;
    await session.release();
    assert.ok(maxAbsDiff(logits.data as Float32Array, await float32s(outputs, 'logits')) < 1e-5);
  });

  it('skips what its record still describes, and converts again when the sources or the builder code change', async () => {
    const model = entry('sentiment', 'fixture/bertweet', 'pytorch_model.bin');
    const dir = join(modelsDir, 'fixture', 'bertweet');
    const before = (await stat(join(dir, 'model.onnx'))).mtimeMs;
    const again = await convertModel(model, modelsDir, { precisions: ['fp32', 'fp16'] });
    assert.deepEqual(again.converted, []);
    assert.deepEqual(again.skipped, ['fp32', 'fp16']);
    assert.equal((await stat(join(dir, 'model.onnx'))).mtimeMs, before);

    // Other builder code: every precision is stale; converting one drops the other from the record.
    const record = JSON.parse(await readFile(join(dir, conversionRecordFile), 'utf8'));
    await writeFile(join(dir, conversionRecordFile), JSON.stringify({ ...record, builderVersion: 'sha256:0000000000000000' }));
    const rebuilt = await convertModel(model, modelsDir, { precisions: ['fp32'] });
    assert.deepEqual(rebuilt.converted, ['fp32']);
    assert.deepEqual(Object.keys((await readConversionRecord(dir))!.conversions), ['fp32']);

    // Another config (same weights): converted again.
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' } }));
    assert.deepEqual((await convertModel(model, modelsDir, { precisions: ['fp32'] })).converted, ['fp32']);
  });

  it('list compares converted files with what the conversion recorded writing, and finds a damaged one', async () => {
    const model = entry('sentiment', 'fixture/bertweet', 'pytorch_model.bin');
    const manifest = parseManifest({ set: 'real', models: [model] });
    const status = async () => (await listModels({ modelsDir, manifest, roles: ['sentiment'], verify: true })).find((row) => row.precision === 'fp32')!;
    assert.equal((await status()).status, 'verified');
    const onnx = join(modelsDir, 'fixture', 'bertweet', 'model.onnx');
    const bytes = await readFile(onnx);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(onnx, bytes);
    const damaged = await status();
    assert.equal(damaged.status, 'mismatch');
    assert.deepEqual(damaged.mismatchedFiles, ['model.onnx']);
    // The record checks sizes only when deciding to skip (hashing GBs on every start is too slow): --force writes it again.
    await convertModel(model, modelsDir, { precisions: ['fp32'], force: true });
    assert.equal((await status()).status, 'verified');
  });

  it("converts transformers' T5 model.safetensors, whose tied weights are only shared.weight", async () => {
    const model = entry('summarizer', 'fixture/t5', 'model.safetensors');
    const dir = await place(modelsDir, model, 't5-tiny');
    await convertModel(model, modelsDir, { precisions: ['fp32'] });
    const outputs = fixture('t5-tiny', 'outputs.safetensors');
    const ids = await int64s(outputs, 'input_ids');
    const mask = await int64s(outputs, 'attention_mask');
    const session = await ort.InferenceSession.create(join(dir, 'encoder_model.onnx'));
    const hidden = (await session.run({ input_ids: new ort.Tensor('int64', ids.data, ids.dims), attention_mask: new ort.Tensor('int64', mask.data, mask.dims) })).last_hidden_state!;
    await session.release();
    assert.ok(maxAbsDiff(hidden.data as Float32Array, await float32s(outputs, 'encoder_last_hidden_state')) < 2e-5);
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.onnx')).sort(), ['decoder_model_merged.onnx', 'encoder_model.onnx']);
  });

  it('refuses a checkpoint with a tensor the architecture does not have, leaving the model folder as it was', async () => {
    const model = entry('sentiment', 'fixture/extra', 'model.safetensors');
    const dir = join(modelsDir, 'fixture', 'extra');
    await mkdir(dir, { recursive: true });
    await copyFile(fixture('bertweet-tiny', 'config.json'), join(dir, 'config.json'));
    const reader = await openCheckpoint(fixture('bertweet-tiny', 'model.safetensors'));
    const tensors: NamedTensor[] = reader.tensors().map((info) => ({ ...info, data: async () => (await reader.readRaw(info.name)).bytes }));
    tensors.push({ name: 'roberta.pooler.dense.weight', dtype: 'F32', shape: [2, 2], data: new Float32Array(4) });
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await reader.close();
    const before = (await readdir(dir)).sort();
    await assert.rejects(convertModel(model, modelsDir, { precisions: ['fp32'] }), (error) => {
      assert.ok(isCuratorError(error));
      assert.equal(error.code, 'model_unsupported');
      assert.match(error.message, /roberta\.pooler\.dense\.weight/);
      return true;
    });
    assert.deepEqual((await readdir(dir)).sort(), before, 'no output, no record');
    assert.deepEqual((await readdir(join(modelsDir, '.staging'))).filter((f) => !f.endsWith('.lock')), [], 'no staging leftovers');
  });

  it('refuses a checkpoint that lacks a tensor its config needs, naming it', async () => {
    const model = entry('sentiment', 'fixture/short', 'model.safetensors');
    const dir = join(modelsDir, 'fixture', 'short');
    await mkdir(dir, { recursive: true });
    await copyFile(fixture('bertweet-tiny', 'config.json'), join(dir, 'config.json'));
    const reader = await openCheckpoint(fixture('bertweet-tiny', 'model.safetensors'));
    const tensors: NamedTensor[] = reader.tensors().filter((info) => info.name !== 'classifier.out_proj.bias').map((info) => ({ ...info, data: async () => (await reader.readRaw(info.name)).bytes }));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await reader.close();
    await assert.rejects(convertModel(model, modelsDir, { precisions: ['fp32'] }), (error) => isCuratorError(error) && error.code === 'checkpoint_invalid' && /classifier\.out_proj\.bias/.test(error.message));
    assert.equal((await readdir(dir)).includes('model.onnx'), false);
  });

  it('refuses a pinned source whose bytes changed', async () => {
    const base = entry('sentiment', 'fixture/pinned', 'pytorch_model.bin');
    const model = { ...base, weights: [{ ...base.weights[0]!, sha256: 'f'.repeat(64) }] };
    await place(modelsDir, model, 'bertweet-tiny');
    await assert.rejects(convertModel(model, modelsDir, { precisions: ['fp32'] }), (error) => isCuratorError(error) && error.code === 'checksum_mismatch');
  });
});
