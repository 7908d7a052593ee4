// Building blocks the text builders (T5, BERT/RoBERTa, CLIP text) share: linear layers over
// checkpoint weights, layer norm, activations as transformers computes them, multi-head attention.
// Values are in the graph's compute type (float32, or float16 in fp16 graphs).
import { attr, DataType, type GraphBuilder } from './graph.ts';
import type { WeightBinder } from './weights.ts';

/** transformers' `ACT2FN` names the builders support. */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_fast' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'relu' | 'silu' | 'swish';
const activations: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_fast', 'gelu_pytorch_tanh', 'quick_gelu', 'relu', 'silu', 'swish'];

export function parseActivation(value: unknown, field: string): Activation {
  if (typeof value === 'string' && (activations as readonly string[]).includes(value)) return value as Activation;
  throw new Error(`${field}: activation ${JSON.stringify(value)} is not supported (supported: ${activations.join(', ')})`);
}

/** The additive mask value transformers uses: the most negative finite value of the float type. */
export function maskMinimum(floatType: number): number {
  return floatType === DataType.FLOAT16 ? -65504 : -3.4028234663852886e38;
}

export class TextLayers {
  /** Where nodes go (a branch of an If is a subgraph). */
  readonly g: GraphBuilder;
  /** Where weights are declared (the outermost graph: subgraphs see its initializers). */
  readonly weightGraph: GraphBuilder;
  readonly weights: WeightBinder;
  private readonly memo = new Map<string, string>();

  constructor(g: GraphBuilder, weights: WeightBinder, weightGraph: GraphBuilder = g) {
    this.g = g;
    this.weights = weights;
    this.weightGraph = weightGraph;
  }

  /** A checkpoint tensor by name (Linear weights transposed to [in, out]). */
  param(name: string, shape: number[], layout: Parameters<WeightBinder['add']>[3] = {}): string {
    return this.weights.add(this.weightGraph, name, shape, layout);
  }

  /** A float constant in the compute type, made once per graph. */
  scalar(value: number): string {
    return this.memoize(`scalar:${value}`, () => this.g.scalar(value));
  }

  /** A float32 constant whatever the compute type (for float32 islands). */
  scalar32(value: number): string {
    return this.memoize(`scalar32:${value}`, () => this.g.constant('float32', [value], [], 'f32'));
  }

  i64(value: number): string {
    return this.memoize(`i64:${value}`, () => this.g.constant('int64', [value], [], 'i64'));
  }

  int64s(values: number[]): string {
    return this.memoize(`i64s:${values}`, () => this.g.int64s(values));
  }

  memoize(key: string, make: () => string): string {
    let value = this.memo.get(key);
    if (value === undefined) this.memo.set(key, (value = make()));
    return value;
  }

  /** nn.Linear at `prefix` (`prefix.weight` [out, in], optional `prefix.bias` [out]): x @ W^T + b. */
  linear(x: string, prefix: string, inDim: number, outDim: number, options: { bias?: boolean; float32?: boolean } = {}): string {
    const weight = this.param(`${prefix}.weight`, [outDim, inDim], { transpose: true, float32: options.float32 });
    const y = this.g.op('MatMul', [x, weight]);
    if (options.bias === false) return y;
    return this.g.op('Add', [y, this.param(`${prefix}.bias`, [outDim], { float32: options.float32 })]);
  }

  /** nn.LayerNorm at `prefix` over the last axis. */
  layerNorm(x: string, prefix: string, dim: number, epsilon: number): string {
    return this.g.op('LayerNormalization', [x, this.param(`${prefix}.weight`, [dim]), this.param(`${prefix}.bias`, [dim])], { axis: attr.int(-1), epsilon: attr.float(epsilon) });
  }

  activation(x: string, kind: Activation): string {
    const g = this.g;
    switch (kind) {
      case 'relu':
        return g.op('Relu', [x]);
      case 'silu':
      case 'swish':
        return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'quick_gelu':
        return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, this.scalar(1.702)])])]);
      case 'gelu':
        // The exact (erf) form: x * 0.5 * (1 + erf(x / sqrt(2))).
        return g.op('Mul', [g.op('Mul', [x, this.scalar(0.5)]), g.op('Add', [this.scalar(1), g.op('Erf', [g.op('Mul', [x, this.scalar(Math.SQRT1_2)])])])]);
      case 'gelu_new':
      case 'gelu_pytorch_tanh':
      case 'gelu_fast': {
        // The tanh approximation: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))).
        const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Mul', [this.scalar(Math.sqrt(2 / Math.PI)), g.op('Add', [x, g.op('Mul', [this.scalar(0.044715), cube])])]);
        return g.op('Mul', [g.op('Mul', [this.scalar(0.5), x]), g.op('Add', [this.scalar(1), g.op('Tanh', [inner])])]);
      }
    }
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    const g = this.g;
    return g.op('Gather', [g.op('Shape', [x]), this.i64(axis)], { axis: attr.int(0) });
  }

  /** [B, T, H*d] -> [B, H, T, d] */
  splitHeads(x: string, heads: number, headDim: number): string {
    const g = this.g;
    return g.op('Transpose', [g.op('Reshape', [x, this.int64s([0, -1, heads, headDim])])], { perm: attr.ints([0, 2, 1, 3]) });
  }

  /** [B, H, T, d] -> [B, T, H*d] */
  mergeHeads(x: string, inner: number): string {
    const g = this.g;
    return g.op('Reshape', [g.op('Transpose', [x], { perm: attr.ints([0, 2, 1, 3]) }), this.int64s([0, -1, inner])]);
  }

  /**
   * softmax(q k^T * scale + bias) v over [B, H, T, d] heads, merged back to [B, T, H*d]. `bias` is
   * additive and broadcasts to [B, H, Tq, Tk] (masks, T5's position bias).
   */
  attention(q: string, k: string, v: string, options: { scale?: number; bias?: string[]; inner: number }): string {
    const g = this.g;
    let scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) })]);
    if (options.scale !== undefined && options.scale !== 1) scores = g.op('Mul', [scores, this.scalar(options.scale)]);
    for (const bias of options.bias ?? []) scores = g.op('Add', [scores, bias]);
    const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
    return this.mergeHeads(g.op('MatMul', [probs, v]), options.inner);
  }

  /** A [B, S] 0/1 int64 mask as an additive [B, 1, 1, S] float mask: 0 where attended, the type's minimum where not. */
  paddingMask(mask: string): string {
    const g = this.g;
    const keep = g.cast(mask, g.floatType);
    const additive = g.op('Mul', [g.op('Sub', [this.scalar(1), keep]), this.scalar(maskMinimum(g.floatType))]);
    return g.op('Unsqueeze', [additive, this.int64s([1, 2])]);
  }
}
