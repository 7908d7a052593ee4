// Which ops onnxruntime-node's CPU provider runs in float16 (README, "fp16 graphs"). For an op it has
// no float16 kernel for, onnxruntime inserts Casts to float32 around it when the session is created
// (InsertCastTransformer); the optimized model it saves shows them. If an onnxruntime upgrade changes
// this list, the README's table must change with it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from '@curator/inference/ort';
import { GraphBuilder, attr, type ElementType } from '../src/graph.ts';

const { onnx } = onnxProto;
const dir = await mkdtemp(join(tmpdir(), 'graphs-fp16-'));
after(() => rm(dir, { recursive: true, force: true }));

type Operands = (g: GraphBuilder) => string[];
const half = (g: GraphBuilder, name: string, dims: number[]) => g.input(name, 'float', dims);
const unary: Operands = (g) => [half(g, 'a', [2, 3])];
const binary: Operands = (g) => [half(g, 'a', [2, 3]), half(g, 'b', [2, 3])];

const ops: Record<string, { operands: Operands; attributes?: Record<string, ReturnType<typeof attr.int>>; output?: ElementType }> = {
  MatMul: { operands: (g) => [half(g, 'a', [2, 3, 4]), half(g, 'b', [4, 5])] },
  Add: { operands: binary },
  Sub: { operands: binary },
  Mul: { operands: binary },
  Div: { operands: binary },
  Sqrt: { operands: unary },
  Reciprocal: { operands: unary },
  ReduceMean: { operands: unary, attributes: { axes: attr.ints([-1]) } },
  Softmax: { operands: unary, attributes: { axis: attr.int(-1) } },
  Erf: { operands: unary },
  Tanh: { operands: unary },
  Sigmoid: { operands: unary },
  Relu: { operands: unary },
  Where: { operands: (g) => [g.input('c', 'bool', [2, 3]), half(g, 'a', [2, 3]), half(g, 'b', [2, 3])] },
  LayerNormalization: { operands: (g) => [half(g, 'a', [2, 3]), half(g, 'w', [3]), half(g, 'b', [3])], attributes: { axis: attr.int(-1) } },
  Max: { operands: binary },
  Min: { operands: binary },
  Gather: { operands: (g) => [half(g, 'a', [4, 3]), g.input('i', 'int64', [2])], attributes: { axis: attr.int(0) } },
  GatherND: { operands: (g) => [half(g, 'a', [2, 4, 3]), g.input('i', 'int64', [2, 1])], attributes: { batch_dims: attr.int(1) } },
  Transpose: { operands: unary, attributes: { perm: attr.ints([1, 0]) } },
  Reshape: { operands: (g) => [half(g, 'a', [2, 3]), g.int64s([3, 2])] },
  Concat: { operands: binary, attributes: { axis: attr.int(0) } },
  Unsqueeze: { operands: (g) => [half(g, 'a', [2, 3]), g.int64s([0])] },
};

/** Ops whose float16 inputs onnxruntime-node 1.30's CPU provider casts to float32 (the README's list). */
const castOnCpu = ['MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Sqrt', 'Reciprocal', 'ReduceMean', 'Softmax', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Where'];

async function insertedCasts(op: string): Promise<number> {
  const { operands, attributes } = ops[op]!;
  const g = new GraphBuilder(op, { precision: 'fp16', compute: 'fp16' });
  g.output('y', 'float', [], g.op(op, operands(g), attributes ?? {}));
  const path = join(dir, `${op}.onnx`);
  await g.save(path);
  const optimized = join(dir, `${op}.optimized.onnx`);
  const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  await s.release();
  return (onnx.ModelProto.decode(await readFile(optimized)).graph!.node ?? []).filter((n) => n.opType === 'Cast').length;
}

test('onnxruntime-node\'s CPU provider runs these ops in float16 and casts the others to float32 itself', async () => {
  const casted: string[] = [];
  for (const op of Object.keys(ops)) if ((await insertedCasts(op)) > 0) casted.push(op);
  assert.deepEqual(casted, castOnCpu);
});
