// Weight sources and binding: seeded random tensors by name, request recording, the [out, in] ->
// [in, out] transpose of Linear weights, float16 storage with float32 islands.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from '@curator/inference/ort';
import { GraphBuilder, DataType } from '../src/graph.ts';
import { TextLayers } from '../src/text-layers.ts';
import { WeightBinder, isNormWeight, randomWeights, tensorWeights } from '../src/weights.ts';
import { writeT5 } from '../src/t5.ts';
import { fixtureConfig, floats, session } from './text-fixtures.ts';

const { onnx } = onnxProto;
const dir = await mkdtemp(join(tmpdir(), 'graphs-weights-'));
after(() => rm(dir, { recursive: true, force: true }));

function stats(values: Float32Array): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) };
}

test('random weights depend only on the seed and the name: not on the order asked, nor on other tensors', async () => {
  const a = randomWeights(7);
  const b = randomWeights(7);
  const first = await a.get('encoder.block.0.layer.0.SelfAttention.q.weight', [32, 32]);
  await b.get('shared.weight', [300, 32]);
  assert.deepEqual(await b.get('encoder.block.0.layer.0.SelfAttention.q.weight', [32, 32]), first);
  assert.notDeepEqual(await a.get('encoder.block.0.layer.0.SelfAttention.k.weight', [32, 32]), first);
  assert.notDeepEqual(await randomWeights(8).get('encoder.block.0.layer.0.SelfAttention.q.weight', [32, 32]), first);
});

test('random weights: norm scales near 1, biases near 0, the rest N(0, std); a per-tensor override wins', async () => {
  const source = randomWeights(1, { std: 0.5, init: (name) => (name === 'special.weight' ? { mean: 3, std: 0.01 } : undefined) });
  const near = (actual: number, expected: number, tolerance: number) => assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);
  const norm = stats(await source.get('bert.encoder.layer.0.output.LayerNorm.weight', [20000]));
  near(norm.mean, 1, 0.005);
  near(norm.std, 0.1, 0.005);
  const bias = stats(await source.get('classifier.bias', [20000]));
  near(bias.mean, 0, 0.001);
  near(bias.std, 0.02, 0.001);
  const matrix = stats(await source.get('classifier.weight', [200, 100]));
  near(matrix.mean, 0, 0.02);
  near(matrix.std, 0.5, 0.02);
  near(stats(await source.get('special.weight', [1000])).mean, 3, 0.002);
  for (const name of ['encoder.final_layer_norm.weight', 'text_model.encoder.layers.0.layer_norm1.weight', 'roberta.embeddings.LayerNorm.weight', 'down_blocks.0.resnets.0.norm1.weight', 'conv_norm_out.weight']) assert.ok(isNormWeight(name), name);
  for (const name of ['shared.weight', 'encoder.block.0.layer.1.DenseReluDense.wo.weight', 'roberta.embeddings.LayerNorm.bias']) assert.ok(!isNormWeight(name), name);
});

test('a bound Linear weight is stored [in, out] from the checkpoint\'s [out, in], pulled lazily, requested once per graph', async () => {
  let reads = 0;
  const weights = new Map([
    ['proj.weight', { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['proj.bias', { shape: [3], data: Float32Array.from([10, 20, 30]) }],
  ]);
  const tensors = tensorWeights(weights);
  const binder = new WeightBinder({ get: (name, shape) => (reads++, tensors.get(name, shape)) });
  const g = new GraphBuilder('linear');
  const t = new TextLayers(g, binder);
  const x = g.input('x', 'float', [1, 2]);
  g.output('y', 'float', [1, 3], t.linear(x, 'proj', 2, 3));
  assert.equal(t.param('proj.weight', [3, 2], { transpose: true }), 'proj.weight', 'asking again gives the same initializer');
  assert.throws(() => t.param('proj.weight', [2, 3]), /requested as \[2,3\] and as \[3,2\]/);
  assert.deepEqual(binder.requested, [
    { name: 'proj.weight', shape: [3, 2] },
    { name: 'proj.bias', shape: [3] },
  ]);
  assert.equal(reads, 0, 'nothing is read before the model is written');
  await g.save(join(dir, 'linear.onnx'));
  assert.equal(reads, 2);
  const s = await session(join(dir, 'linear.onnx'));
  // x @ W^T + b with x = [1, 0]: the first column of W plus the bias.
  const { y } = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0]), [1, 2]) });
  assert.deepEqual([...floats(y!)], [11, 23, 35]);
  await s.release();
});

test('fp16 graphs store weights as float16, except T5\'s wo kept in float32 as transformers keeps it', async () => {
  const written = await writeT5(join(dir, 't5'), await fixtureConfig('t5-tiny'), randomWeights(2), { precision: 'fp16', parts: ['encoder_model'] });
  const model = onnx.ModelProto.decode(await readFile(written.files[0]!.path));
  const types = new Map((model.graph!.initializer ?? []).map((t) => [t.name, t.dataType]));
  assert.equal(types.get('shared.weight'), DataType.FLOAT16);
  assert.equal(types.get('encoder.block.0.layer.0.SelfAttention.q.weight'), DataType.FLOAT16);
  assert.equal(types.get('encoder.final_layer_norm.weight'), DataType.FLOAT16);
  assert.equal(types.get('encoder.block.1.layer.1.DenseReluDense.wo.weight'), DataType.FLOAT);
  const io = [...(model.graph!.input ?? []), ...(model.graph!.output ?? [])].map((v) => [v.name, v.type!.tensorType!.elemType]);
  assert.deepEqual(io, [
    ['input_ids', DataType.INT64],
    ['attention_mask', DataType.INT64],
    ['last_hidden_state', DataType.FLOAT16],
  ]);
});
