// The graph context every Stable Diffusion builder works through: a GraphBuilder computing in the
// graph's own precision (float16 end to end in fp16 graphs, float32 islands marked by the blocks), a
// WeightBinder through which weights are requested by their diffusers state-dict name (pulled from
// the WeightSource one at a time when the model is written), and the attention kernel choice.
import { GraphBuilder } from './graph.ts';
import type { Precision } from './graph.ts';
import type { WeightBinder, WeightLayout } from './weights.ts';

/**
 * How attention is computed. `fused`: onnxruntime's com.microsoft MultiHeadAttention, which has CPU
 * and CUDA kernels and never materialises the [B, heads, S, S] score matrix on CPU (2.5 GB less peak
 * memory at 4096 tokens, and faster); `standard`: MatMul, Softmax, MatMul in plain ONNX for runtimes
 * without onnxruntime's contrib operators.
 */
export type AttentionKernel = 'fused' | 'standard';

type Attributes = Parameters<GraphBuilder['node']>[2];

export class DiffusionGraph {
  readonly g: GraphBuilder;
  readonly weights: WeightBinder;
  readonly precision: Precision;
  readonly attentionKernel: AttentionKernel;
  private readonly memo = new Map<string, string>();

  constructor(name: string, precision: Precision, weights: WeightBinder, options: { attentionKernel?: AttentionKernel } = {}) {
    this.g = new GraphBuilder(name, { precision, compute: precision });
    this.weights = weights;
    this.precision = precision;
    this.attentionKernel = options.attentionKernel ?? 'fused';
  }

  /** A graph input; `float` inputs take the graph's float type. */
  input(name: string, type: 'float' | 'float32' | 'int64', dims: Array<number | string>): string {
    return this.g.input(name, type, dims);
  }

  /** Declares `value` (in the graph's float type) as the float graph output `name`. */
  output(name: string, dims: Array<number | string>, value: string): void {
    this.g.output(name, 'float', dims, value);
  }

  /** A checkpoint weight by its state-dict name and checkpoint shape, in the graph's float type. */
  param(name: string, shape: number[], layout: WeightLayout = {}): string {
    return this.weights.add(this.g, name, shape, layout);
  }

  /** A node with one output, named after `hint` so the graph reads like the module tree. */
  op(opType: string, inputs: string[], attributes: Attributes = {}, hint?: string): string {
    return this.g.node(opType, inputs, attributes, hint ? [this.g.fresh(hint)] : 1)[0]!;
  }

  /** A node of onnxruntime's com.microsoft domain, with one output. */
  contribOp(opType: string, inputs: string[], attributes: Attributes, hint: string): string {
    return this.g.node(opType, inputs, attributes, [this.g.fresh(hint)], 'com.microsoft')[0]!;
  }

  /** Float constant in the graph's float type (shared between uses). */
  floats(values: number[], dims: number[], hint = 'const'): string {
    return this.memoize(`floats:${dims}:${values}`, () => this.g.constant('float', values, dims, hint));
  }

  /** Float32 constant whatever the graph's type (for float32 islands). */
  floats32(values: number[], dims: number[], hint = 'const'): string {
    return this.memoize(`floats32:${dims}:${values}`, () => this.g.constant('float32', values, dims, hint));
  }

  int64s(values: number[], hint = 'i64'): string {
    return this.memoize(`i64:${values}`, () => this.g.int64s(values, hint));
  }

  /** Into float32 (a no-op in fp32 graphs). */
  toFloat32(value: string): string {
    return this.g.toFloat32(value);
  }

  /** From float32 into the graph's float type (a no-op in fp32 graphs). */
  fromFloat32(value: string): string {
    return this.g.fromFloat32(value);
  }

  /** Computes `make()` once per key: shared subgraphs such as the activated time embedding. */
  memoize(key: string, make: () => string): string {
    let value = this.memo.get(key);
    if (value === undefined) {
      value = make();
      this.memo.set(key, value);
    }
    return value;
  }
}
