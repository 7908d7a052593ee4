// The BERT / RoBERTa sequence-classifier builder against transformers' own
// RobertaForSequenceClassification (BERTweet-shaped) and BertForSequenceClassification.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from '@curator/inference/ort';
import { writeEncoderClassifier, parseEncoderClassifierConfig, encoderClassifierWeightRequests } from '../src/encoder-classifier.ts';
import { fixtureConfig, fixturePath, floats, int64, maxAbs, maxAbsDiff, readerWeights, readTensors, report, session, tensor, withCheckpoint } from './text-fixtures.ts';

const dir = await mkdtemp(join(tmpdir(), 'graphs-classifier-'));
after(() => rm(dir, { recursive: true, force: true }));

// fp32: measured max |diff| 7e-7 / 1.3e-6 on logits up to ~4; fp16: about 3.5e-3.
const tolerances = { fp32: 1e-5, fp16: 2e-2 } as const;

const models = [
  { model: 'bertweet-tiny', inputs: ['input_ids', 'attention_mask'], labels: 3 },
  { model: 'bert-tiny', inputs: ['input_ids', 'attention_mask', 'token_type_ids'], labels: 5 },
];

for (const { model, inputs, labels } of models) {
  for (const precision of ['fp32', 'fp16'] as const) {
    test(`${model} ${precision}: logits equal transformers' for a padded batch, with the engine's input and output names`, async () => {
      const config = await fixtureConfig(model);
      const path = join(dir, model, precision === 'fp16' ? 'model_fp16.onnx' : 'model.onnx');
      const written = await withCheckpoint(fixturePath(model, 'model.safetensors'), (reader) => writeEncoderClassifier(path, config, readerWeights(reader), { precision }));
      const s = await session(written.file.path);
      try {
        assert.deepEqual(s.inputNames, inputs);
        assert.deepEqual(s.outputNames, ['logits']);
        const output = s.outputMetadata[0]!;
        assert.ok(output.isTensor);
        assert.equal(output.type, precision === 'fp16' ? 'float16' : 'float32');
        assert.deepEqual(output.shape, ['batch_size', labels]);
        const out = await readTensors(fixturePath(model, 'outputs.safetensors'));
        const feeds: Record<string, ort.Tensor> = Object.fromEntries(inputs.map((name) => [name, int64(tensor(out, name))]));
        const { logits } = await s.run(feeds);
        const expected = tensor(out, 'logits').values as Float32Array;
        const diff = maxAbsDiff(floats(logits!), expected);
        report(`${model} ${precision} logits max |diff| (values up to ${maxAbs(expected).toFixed(1)})`, diff);
        assert.ok(diff <= tolerances[precision], `${diff}`);
      } finally {
        await s.release();
      }
    });
  }

  test(`${model}: the graph asks for exactly the tensors of transformers' model.safetensors, with their shapes`, async () => {
    const config = await fixtureConfig(model);
    const inFile = await withCheckpoint(fixturePath(model, 'model.safetensors'), async (reader) => reader.tensors().map((t) => ({ name: t.name, shape: t.shape })));
    const byName = (list: { name: string; shape: number[] }[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(byName(encoderClassifierWeightRequests(config)), byName(inFile));
  });
}

test('config.json: architecture, labels and problem_type as transformers reads them; what the builder cannot build is refused', () => {
  const roberta = parseEncoderClassifierConfig({ model_type: 'roberta', id2label: { 0: 'NEG', 1: 'NEU', 2: 'POS' }, hidden_size: 32, num_attention_heads: 4 });
  assert.equal(roberta.architecture, 'roberta');
  assert.equal(roberta.numLabels, 3);
  assert.equal(roberta.padTokenId, 1);
  const bert = parseEncoderClassifierConfig({ architectures: ['BertForSequenceClassification'], num_labels: 1, problem_type: 'regression' });
  assert.equal(bert.architecture, 'bert');
  assert.equal(bert.numLabels, 1);
  assert.equal(bert.problemType, 'regression');
  assert.equal(parseEncoderClassifierConfig({ model_type: 'bert' }).numLabels, 2);
  assert.throws(() => parseEncoderClassifierConfig({ model_type: 'bert', position_embedding_type: 'relative_key' }), /position_embedding_type/);
  assert.throws(() => parseEncoderClassifierConfig({ model_type: 'bert', hidden_act: 'mish' }), /hidden_act/);
  assert.throws(() => parseEncoderClassifierConfig({ model_type: 'gpt2' }), /neither bert nor roberta/);
  assert.throws(() => parseEncoderClassifierConfig({ model_type: 'bert', hidden_size: 30, num_attention_heads: 4 }), /multiple/);
});
