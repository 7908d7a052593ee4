// The streaming ONNX writer: byte-identical to onnx-proto's in-memory encoding, loadable by
// onnxruntime inline and with external data, one weight in memory at a time, nothing left behind
// on failure.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from '@curator/inference/ort';
import { buildT5Graph, parseT5Config } from '../src/t5.ts';
import { GraphBuilder } from '../src/graph.ts';
import { WeightBinder, randomWeights, type WeightSource } from '../src/weights.ts';
import { fixtureConfig, floats, int64Of, session } from './text-fixtures.ts';

const { onnx } = onnxProto;
const dir = await mkdtemp(join(tmpdir(), 'graphs-writer-'));
after(() => rm(dir, { recursive: true, force: true }));

const t5Config = await fixtureConfig('t5-tiny');
const spec = parseT5Config(t5Config);
const encoderFeeds = () => ({ input_ids: int64Of([[5, 6, 7, 1, 0], [9, 8, 1, 0, 0]]), attention_mask: int64Of([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]) });

test('the streamed file is byte for byte the in-memory encoding (If subgraphs, lazy weights, constants)', async () => {
  for (const part of ['decoder_model_merged', 'encoder_model'] as const) {
    for (const precision of ['fp32', 'fp16'] as const) {
      const graph = buildT5Graph(part, spec, new WeightBinder(randomWeights(3)), precision);
      const path = join(dir, `${part}-${precision}.onnx`);
      const written = await graph.save(path);
      const streamed = await readFile(path);
      assert.ok(streamed.equals(await graph.encode()), `${part} ${precision}`);
      assert.equal(written.bytes, streamed.length);
      assert.equal(written.dataPath, undefined);
    }
  }
  // And onnxruntime runs it.
  const s = await session(join(dir, 'encoder_model-fp32.onnx'));
  const { last_hidden_state: hidden } = await s.run(encoderFeeds());
  assert.deepEqual(hidden!.dims, [2, 5, spec.dModel]);
  assert.ok(floats(hidden!).every(Number.isFinite));
  await s.release();
});

test('above the size threshold the weights go to <file>_data, page-aligned; small tensors stay inline; onnxruntime loads it and computes the same', async () => {
  const inlinePath = join(dir, 'inline', 'model.onnx');
  const externalPath = join(dir, 'external', 'model.onnx');
  const make = () => buildT5Graph('encoder_model', spec, new WeightBinder(randomWeights(4)), 'fp32');
  const inline = await make().save(inlinePath);
  // The threshold is protobuf's 2 GB limit by default; a low one exercises the same path on a small model.
  const external = await make().save(externalPath, { externalDataAbove: 50_000 });
  assert.equal(inline.dataPath, undefined);
  assert.equal(external.dataPath, join(dir, 'external', 'model.onnx_data'));
  assert.ok(inline.bytes > 50_000);
  assert.ok(external.bytes < 50_000, `${external.bytes}`);
  assert.deepEqual((await readdir(join(dir, 'external'))).sort(), ['model.onnx', 'model.onnx_data']);

  const model = onnx.ModelProto.decode(await readFile(externalPath));
  const initializers = model.graph!.initializer ?? [];
  const location = (t: (typeof initializers)[number]) => Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
  const outside = initializers.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  const shared = outside.find((t) => t.name === 'shared.weight');
  assert.ok(shared, 'the embedding table went to the data file');
  for (const t of outside) {
    assert.equal(location(t).location, 'model.onnx_data');
    assert.equal(Number(location(t).offset) % 4096, 0);
  }
  const norm = initializers.find((t) => t.name === 'encoder.final_layer_norm.weight')!;
  assert.equal(norm.rawData?.length, spec.dModel * 4, 'a 128-byte tensor stays inline');
  const dataSize = (await stat(external.dataPath!)).size;
  assert.equal(dataSize, Math.max(...outside.map((t) => Number(location(t).offset) + Number(location(t).length))));

  const [a, b] = [await session(inlinePath), await session(externalPath)];
  const feeds = encoderFeeds();
  assert.deepEqual(floats((await a.run(feeds)).last_hidden_state!), floats((await b.run(feeds)).last_hidden_state!));
  await a.release();
  await b.release();
});

test('GraphBuilder.save keeps its externalData option (file name and per-tensor threshold)', async () => {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float', [1, 300]);
  g.output('y', 'float', [1, 300], g.op('Add', [x, g.weight('w', new Float32Array(300).fill(2), [300])]));
  const written = await g.save(join(dir, 'legacy', 'model.onnx'), { externalData: { file: 'weights.bin', threshold: 1024 } });
  assert.equal(written.dataPath, join(dir, 'legacy', 'weights.bin'));
  const s = await session(join(dir, 'legacy', 'model.onnx'));
  const { y } = await s.run({ x: new ort.Tensor('float32', new Float32Array(300).fill(1), [1, 300]) });
  assert.ok(floats(y!).every((v) => v === 3));
  await s.release();
});

test('weights are pulled one at a time, each only after the one before is written', async () => {
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  const source: WeightSource = {
    async get(name, shape) {
      active++;
      maxActive = Math.max(maxActive, active);
      events.push(`get ${name}`);
      const values = await randomWeights(5).get(name, shape);
      await new Promise((resolve) => setTimeout(resolve, 1));
      active--;
      return values;
    },
  };
  const binder = new WeightBinder(source);
  const graph = buildT5Graph('decoder_model_merged', spec, binder, 'fp16');
  await graph.save(join(dir, 'order', 'decoder_model_merged_fp16.onnx'), { onProgress: ({ name }) => events.push(`wrote ${name}`) });
  assert.equal(maxActive, 1);
  const gets = events.filter((e) => e.startsWith('get '));
  assert.equal(gets.length, binder.requested.length, 'each tensor is read once');
  for (let i = 0; i + 1 < events.length; i++) {
    if (events[i]!.startsWith('get ')) assert.equal(events[i + 1], `wrote ${events[i]!.slice(4)}`, 'a weight is written before the next is read');
  }
});

test('a source that fails or gives the wrong size names the tensor, and no file is left behind', async () => {
  const failing: WeightSource = {
    async get(name, shape) {
      if (name.includes('block.1')) throw new Error(`${name} is not in the checkpoint`);
      return randomWeights(1).get(name, shape);
    },
  };
  const out = join(dir, 'failing');
  await assert.rejects(buildT5Graph('encoder_model', spec, new WeightBinder(failing)).save(join(out, 'encoder_model.onnx')), /encoder\.block\.1\..* is not in the checkpoint/);
  assert.deepEqual(await readdir(out), []);
  const short: WeightSource = { get: async () => new Float32Array(3) };
  await assert.rejects(buildT5Graph('encoder_model', spec, new WeightBinder(short)).save(join(out, 'encoder_model.onnx'), { externalDataAbove: 1 }), /shared\.weight: the weight source gave 3 values/);
  assert.deepEqual(await readdir(out), []);
});
