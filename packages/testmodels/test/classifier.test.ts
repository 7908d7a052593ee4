import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { writeTestSentimentModel, writeTestGenreModel, type WrittenTestClassifier } from '../src/classifier.ts';
import { float16BitsToFloat32 } from '@curator/graphs/graph';

const dir = await mkdtemp(join(tmpdir(), 'curator-testclassifier-'));
test.after(() => rm(dir, { recursive: true, force: true }));

const sentiment = await writeTestSentimentModel(join(dir, 'sentiment'));
const genre = await writeTestGenreModel(join(dir, 'genre'));

function feeds(model: WrittenTestClassifier, rows: number[][], masks?: number[][]): Record<string, ort.Tensor> {
  const width = rows[0]!.length;
  const flat = (values: number[][]) => new ort.Tensor('int64', BigInt64Array.from(values.flat(), (v) => BigInt(v)), [values.length, width]);
  const result: Record<string, ort.Tensor> = {
    input_ids: flat(rows),
    attention_mask: flat(masks ?? rows.map((row) => row.map(() => 1))),
  };
  if (model.spec.architecture === 'bert') result.token_type_ids = flat(rows.map((row) => row.map(() => 0)));
  return result;
}

async function logits(session: ort.InferenceSession, model: WrittenTestClassifier, rows: number[][], masks?: number[][]): Promise<number[]> {
  const out = (await session.run(feeds(model, rows, masks))).logits!;
  return out.type === 'float16' ? Array.from(out.data as Uint16Array, float16BitsToFloat32) : Array.from(out.data as Float32Array);
}

function assertClose(actual: number[], expected: number[], tolerance: number, message: string) {
  assert.equal(actual.length, expected.length, message);
  actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) <= tolerance, `${message}: [${i}] ${value} vs ${expected[i]} (tolerance ${tolerance})`));
}

// Token ids of a sentence: bos/cls, a few words, eos/sep.
const sentence = (model: WrittenTestClassifier, words: number[]) =>
  model.spec.architecture === 'roberta' ? [0, ...words, 2] : [bertId(model, '[CLS]'), ...words, bertId(model, '[SEP]')];

const bertVocab = JSON.parse(await readFile(join(genre.dir, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
function bertId(_model: WrittenTestClassifier, token: string): number {
  const id = bertVocab[token];
  assert.ok(id !== undefined, `${token} in the WordPiece vocabulary`);
  return id;
}

for (const [name, model] of [
  ['sentiment (RoBERTa)', sentiment],
  ['genre (BERT)', genre],
] as const) {
  test(`${name}: files in the Hugging Face export layout`, async () => {
    const config = JSON.parse(await readFile(join(model.dir, 'config.json'), 'utf8'));
    const roberta = model.spec.architecture === 'roberta';
    assert.deepEqual(config.architectures, [roberta ? 'RobertaForSequenceClassification' : 'BertForSequenceClassification']);
    assert.equal(config.model_type, model.spec.architecture);
    assert.equal(config.hidden_act, 'gelu');
    assert.equal(config.pad_token_id, roberta ? 1 : 0);
    if (roberta) assert.equal(config.max_position_embeddings, 130);
    assert.equal(Object.keys(config.id2label).length, model.spec.numLabels);
    for (const [id, label] of Object.entries(config.id2label)) assert.equal(config.label2id[label as string], Number(id));
    const tokenizerFiles = roberta ? ['vocab.txt', 'bpe.codes'] : ['tokenizer.json'];
    for (const file of ['model.onnx', 'model_fp16.onnx', ...tokenizerFiles]) await access(join(model.dir, file));
  });

  test(`${name}: onnxruntime loads it with the export's input and output names and types`, async () => {
    for (const [file, logitsType] of [
      ['model.onnx', 'float32'],
      ['model_fp16.onnx', 'float16'],
    ] as const) {
      const session = await ort.InferenceSession.create(join(model.dir, file));
      const expectedInputs = model.spec.architecture === 'bert' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
      assert.deepEqual(session.inputNames, expectedInputs);
      assert.deepEqual(session.outputNames, ['logits']);
      for (const meta of session.inputMetadata) {
        assert.ok(meta.isTensor);
        assert.equal(meta.type, 'int64');
        assert.deepEqual(meta.shape, ['batch_size', 'sequence_length']);
      }
      const output = session.outputMetadata[0]!;
      assert.ok(output.isTensor);
      assert.equal(output.type, logitsType);
      assert.deepEqual(output.shape, ['batch_size', model.spec.numLabels]);
      await session.release();
    }
  });

  test(`${name}: padding with the mask off does not change the logits (mask and position ids are real)`, async () => {
    const session = await ort.InferenceSession.create(join(model.dir, 'model.onnx'));
    const pad = model.spec.padTokenId;
    const ids = sentence(model, [40, 41, 42, 43]);
    const unpadded = await logits(session, model, [ids]);
    const padded = await logits(session, model, [[...ids, pad, pad, pad]], [[...ids.map(() => 1), 0, 0, 0]]);
    assertClose(padded, unpadded, 1e-4, 'padded vs unpadded');
    // In a batch beside a longer sequence it is padded too, and still the same.
    const longer = sentence(model, [50, 51, 52, 53, 54, 55, 56]);
    const batch = await logits(session, model, [[...ids, pad, pad, pad], longer], [[...ids.map(() => 1), 0, 0, 0], longer.map(() => 1)]);
    assertClose(batch.slice(0, model.spec.numLabels), unpadded, 1e-4, 'batched vs alone');
    // The mask matters: the same padded ids attended to give other logits.
    const attended = await logits(session, model, [[...ids, pad, pad, pad]]);
    assert.ok(attended.some((v, i) => Math.abs(v - unpadded[i]!) > 1e-3), 'attending to pad tokens changes the logits');
    await session.release();
  });

  test(`${name}: different texts give visibly different logits`, async () => {
    const session = await ort.InferenceSession.create(join(model.dir, 'model.onnx'));
    const a = await logits(session, model, [sentence(model, [30, 31, 32])]);
    const b = await logits(session, model, [sentence(model, [60, 61, 62])]);
    const c = await logits(session, model, [sentence(model, [32, 31, 30])]);
    const distance = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
    assert.ok(distance(a, b) > 0.05, `a vs b differ by ${distance(a, b)}`);
    // Word order matters too: positions are embedded.
    assert.ok(distance(a, c) > 0.01, `a vs reversed differ by ${distance(a, c)}`);
    await session.release();
  });

  test(`${name}: the fp16 model is the fp32 model rounded`, async () => {
    const fp32 = await ort.InferenceSession.create(join(model.dir, 'model.onnx'));
    const fp16 = await ort.InferenceSession.create(join(model.dir, 'model_fp16.onnx'));
    for (const words of [[30, 31, 32], [60, 61, 62, 63, 64], [45]]) {
      const ids = sentence(model, words);
      assertClose(await logits(fp16, model, [ids]), await logits(fp32, model, [ids]), 0.05, `fp16 vs fp32 for ${words}`);
    }
    await fp32.release();
    await fp16.release();
  });
}

test('sentiment (RoBERTa): position ids count only non-pad tokens, as create_position_ids_from_input_ids does', async () => {
  const session = await ort.InferenceSession.create(join(sentiment.dir, 'model.onnx'));
  const pad = sentiment.spec.padTokenId;
  const ids = sentence(sentiment, [40, 41, 42, 43]);
  const plain = await logits(session, sentiment, [ids]);
  // Masked pad tokens in the middle: with positions counted from input_ids the real tokens after
  // them keep their positions; with positions 0..n they would shift and the logits change.
  const holed = [...ids.slice(0, 3), pad, pad, ...ids.slice(3)];
  const holedMask = holed.map((id, i) => (i === 3 || i === 4 ? 0 : 1));
  assertClose(await logits(session, sentiment, [holed], [holedMask]), plain, 1e-4, 'pads inside the sequence');
  await session.release();
});

test('the same seed writes the same model; another seed another one', async () => {
  const again = await writeTestSentimentModel(join(dir, 'sentiment-again'), { precisions: ['fp32'] });
  const other = await writeTestSentimentModel(join(dir, 'sentiment-other'), { precisions: ['fp32'], seed: 99 });
  const original = await readFile(sentiment.modelPath!);
  assert.deepEqual(await readFile(again.modelPath!), original);
  assert.notDeepEqual(await readFile(other.modelPath!), original);
  assert.equal(again.fp16ModelPath, undefined);
});
