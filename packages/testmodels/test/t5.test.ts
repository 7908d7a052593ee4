import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { readSentencePieceModel } from '@curator/tokenizers';
import { writeTestT5, tinyT5Config } from '../src/t5.ts';

const layers = tinyT5Config.num_decoder_layers!;
const pastNames = (prefix: string, parts: ('decoder' | 'encoder')[]) =>
  Array.from({ length: layers }, (_, i) => parts.flatMap((p) => [`${prefix}.${i}.${p}.key`, `${prefix}.${i}.${p}.value`])).flat();

test('the T5 export loads in onnxruntime with the optimum input and output names, in both layouts and precisions', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 't5-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeTestT5(dir, { ...tinyT5Config, feed_forward_proj: 'gated-gelu' }, { precisions: ['fp32', 'fp16'] });
  for (const suffix of ['', '_fp16']) {
    const encoder = await ort.InferenceSession.create(join(dir, 'onnx', `encoder_model${suffix}.onnx`));
    assert.deepEqual(encoder.inputNames, ['input_ids', 'attention_mask']);
    assert.deepEqual(encoder.outputNames, ['last_hidden_state']);
    const merged = await ort.InferenceSession.create(join(dir, 'onnx', `decoder_model_merged${suffix}.onnx`));
    assert.deepEqual([...merged.inputNames].sort(), ['encoder_attention_mask', 'input_ids', 'encoder_hidden_states', ...pastNames('past_key_values', ['decoder', 'encoder']), 'use_cache_branch'].sort());
    assert.deepEqual(merged.outputNames, ['logits', ...pastNames('present', ['decoder', 'encoder'])]);
    const first = await ort.InferenceSession.create(join(dir, 'onnx', `decoder_model${suffix}.onnx`));
    assert.deepEqual([...first.inputNames].sort(), ['encoder_attention_mask', 'encoder_hidden_states', 'input_ids']);
    assert.deepEqual(first.outputNames, ['logits', ...pastNames('present', ['decoder', 'encoder'])]);
    const withPast = await ort.InferenceSession.create(join(dir, 'onnx', `decoder_with_past_model${suffix}.onnx`));
    assert.deepEqual([...withPast.inputNames].sort(), ['encoder_attention_mask', 'input_ids', ...pastNames('past_key_values', ['decoder', 'encoder'])].sort());
    assert.deepEqual(withPast.outputNames, ['logits', ...pastNames('present', ['decoder'])]);
  }
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.d_model, 32);
  assert.equal(config.feed_forward_proj, 'gated-gelu');
  // As t5-small: spiece.model (SentencePiece) and the tokenizer.json made from it.
  const spiece = readSentencePieceModel(await readFile(join(dir, 'spiece.model')));
  assert.equal(spiece.trainerSpec.modelType, 'unigram');
  assert.deepEqual(spiece.pieces.slice(0, 3).map((piece) => piece.piece), ['<pad>', '</s>', '<unk>']);
  assert.equal(spiece.pieces.length, tinyT5Config.vocab_size);
  const tokenizer = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  assert.equal(tokenizer.model.type, 'Unigram');
  assert.deepEqual(tokenizer.model.vocab.map((p: [string, number]) => p[0]), spiece.pieces.map((piece) => piece.piece));
});

test('merged and split decoders share weights: the first step and a cached step give the same logits', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 't5-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeTestT5(dir, tinyT5Config, { tokenizer: false });
  const open = (name: string) => ort.InferenceSession.create(join(dir, 'onnx', `${name}.onnx`));
  const [encoder, merged, first, withPast] = await Promise.all([open('encoder_model'), open('decoder_model_merged'), open('decoder_model'), open('decoder_with_past_model')]);
  const ids = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
  const mask = ids([1, 1, 1, 1, 1, 0], [1, 6]);
  const { last_hidden_state: hidden } = await encoder.run({ input_ids: ids([40, 41, 42, 43, 1, 0], [1, 6]), attention_mask: mask });
  const empty = new ort.Tensor('float32', new Float32Array(0), [1, tinyT5Config.num_heads, 0, tinyT5Config.d_kv]);
  const pastFeeds = (out?: ort.InferenceSession.OnnxValueMapType) =>
    Object.fromEntries(pastNames('past_key_values', ['decoder', 'encoder']).map((name) => [name, out ? out[name.replace('past_key_values', 'present')]! : empty]));
  const m1 = await merged.run({ input_ids: ids([0], [1, 1]), encoder_attention_mask: mask, encoder_hidden_states: hidden!, use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]), ...pastFeeds() });
  const s1 = await first.run({ input_ids: ids([0], [1, 1]), encoder_attention_mask: mask, encoder_hidden_states: hidden! });
  assert.deepEqual(m1.logits!.data, s1.logits!.data);
  const m2 = await merged.run({ input_ids: ids([7], [1, 1]), encoder_attention_mask: mask, encoder_hidden_states: hidden!, use_cache_branch: new ort.Tensor('bool', new Uint8Array([1]), [1]), ...pastFeeds(m1) });
  const s2 = await withPast.run({ input_ids: ids([7], [1, 1]), encoder_attention_mask: mask, ...pastFeeds(s1) });
  assert.deepEqual(m2.logits!.data, s2.logits!.data);
  assert.deepEqual(m2['present.0.decoder.key']!.dims, [1, tinyT5Config.num_heads, 2, tinyT5Config.d_kv]);
  // The cache reproduces a full recomputation of the two-token prefix.
  const full = await first.run({ input_ids: ids([0, 7], [1, 2]), encoder_attention_mask: mask, encoder_hidden_states: hidden! });
  const V = tinyT5Config.vocab_size;
  const last = (full.logits!.data as Float32Array).slice(V, 2 * V);
  const cached = m2.logits!.data as Float32Array;
  for (let v = 0; v < V; v++) assert.ok(Math.abs(last[v]! - cached[v]!) < 1e-4, `logit ${v}: ${last[v]} vs ${cached[v]}`);
});
