// The graph context every Stable Diffusion builder works through: nodes go to a GraphBuilder, weights
// are only *requested* (by their diffusers state-dict name and shape) and pulled from a WeightSource
// one at a time when the model is written, so a 2 GB UNet never sits in memory whole.
import { GraphBuilder, DataType, attr } from './graph.ts';
import type { Precision } from './graph.ts';

export type FloatPrecision = Precision;

/** One checkpoint tensor a builder asked for. */
export interface TensorRequest {
  name: string;
  shape: number[];
}

/**
 * How a checkpoint tensor becomes an initializer. `dims` is the initializer's shape (a reshape of the
 * same row-major data, e.g. a GroupNorm scale [C] stored as [C, 1, 1]); `transpose` turns a PyTorch
 * Linear weight [out, in] into the [in, out] that MatMul wants, once at write time instead of a
 * Transpose node at every run.
 */
export interface ParamSpec extends TensorRequest {
  dims: number[];
  transpose: boolean;
}

/**
 * How attention is computed. `fused`: onnxruntime's com.microsoft MultiHeadAttention, which has CPU
 * and CUDA kernels and never materialises the [B, heads, S, S] score matrix on CPU (2.5 GB less peak
 * memory at 4096 tokens, and faster); `standard`: MatMul, Softmax, MatMul in plain ONNX for runtimes
 * without onnxruntime's contrib operators.
 */
export type AttentionKernel = 'fused' | 'standard';

export interface ValueSpec {
  name: string;
  dataType: number;
  dims: Array<number | string>;
}

/**
 * A Stable Diffusion graph under construction. Float values flow in the graph's compute type:
 * float32, or float16 in fp16 graphs (where only the islands the builders mark run in float32).
 */
export class DiffusionGraph {
  readonly g: GraphBuilder;
  readonly precision: FloatPrecision;
  /** ONNX element type of float values, inputs, outputs and weights. */
  readonly floatType: number;
  readonly inputs: ValueSpec[] = [];
  readonly outputs: ValueSpec[] = [];
  private readonly paramsByName = new Map<string, ParamSpec>();
  private readonly memo = new Map<string, string>();

  readonly attentionKernel: AttentionKernel;
  /** Operator domains used besides the default one (written as opset imports). */
  readonly domains = new Set<string>();

  constructor(name: string, precision: FloatPrecision, options: { attentionKernel?: AttentionKernel } = {}) {
    // The builder makes nodes and small constants only; its own fp16 handling is not used.
    this.g = new GraphBuilder(name, { precision: 'fp32' });
    this.precision = precision;
    this.floatType = precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    this.attentionKernel = options.attentionKernel ?? 'fused';
  }

  get name(): string {
    return this.g.name;
  }

  /** Every weight requested so far, in request order (the order they are written). */
  get params(): ParamSpec[] {
    return [...this.paramsByName.values()];
  }

  /** Names and checkpoint shapes of every weight requested, for comparing against a state dict. */
  get requested(): TensorRequest[] {
    return this.params.map(({ name, shape }) => ({ name, shape: [...shape] }));
  }

  /** A graph input; `float` inputs take the graph's float type. */
  input(name: string, type: 'float' | 'int64' | 'float32', dims: Array<number | string>): string {
    const dataType = type === 'float' ? this.floatType : type === 'int64' ? DataType.INT64 : DataType.FLOAT;
    this.inputs.push({ name, dataType, dims });
    return name;
  }

  /** Declares `value` (a float in the graph's float type) as the graph output `name`. */
  output(name: string, dims: Array<number | string>, value: string): void {
    this.g.node('Identity', [value], {}, [name]);
    this.outputs.push({ name, dataType: this.floatType, dims });
  }

  /**
   * A checkpoint weight by its state-dict name. Asking twice for one name returns the same value;
   * asking with another shape is a builder bug.
   */
  param(name: string, shape: number[], layout: { dims?: number[]; transpose?: boolean } = {}): string {
    const known = this.paramsByName.get(name);
    if (known) {
      if (known.shape.join() !== shape.join()) throw new Error(`${name} requested as [${shape}] and as [${known.shape}]`);
      return name;
    }
    const transpose = layout.transpose ?? false;
    if (transpose && shape.length !== 2) throw new Error(`${name}: only 2-D weights can be transposed`);
    const dims = layout.dims ?? (transpose ? [shape[1]!, shape[0]!] : shape);
    if (dims.reduce((a, b) => a * b, 1) !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: [${dims}] does not hold [${shape}]`);
    this.paramsByName.set(name, { name, shape: [...shape], dims, transpose });
    return name;
  }

  /** A node with one output, named after `hint` so the graph reads like the module tree. */
  op(opType: string, inputs: string[], attributes: Parameters<GraphBuilder['node']>[2] = {}, hint?: string): string {
    return this.g.node(opType, inputs, attributes, hint ? [this.g.fresh(hint)] : 1)[0]!;
  }

  /** A node of onnxruntime's com.microsoft domain, with one output. */
  contribOp(opType: string, inputs: string[], attributes: Parameters<GraphBuilder['node']>[2], hint: string): string {
    this.domains.add('com.microsoft');
    return this.g.node(opType, inputs, attributes, [this.g.fresh(hint)], 'com.microsoft')[0]!;
  }

  /** Float constant in the graph's float type (a float32 initializer cast once; onnxruntime folds it). */
  floats(values: number[], dims: number[], hint = 'const'): string {
    return this.memoize(`floats:${this.precision}:${dims}:${values}`, () => {
      const c = this.g.constant('float', values, dims, hint);
      return this.precision === 'fp16' ? this.g.cast(c, DataType.FLOAT16) : c;
    });
  }

  /** Float32 constant whatever the graph's type (for float32 islands). */
  floats32(values: number[], dims: number[], hint = 'const'): string {
    return this.memoize(`floats32:${dims}:${values}`, () => this.g.constant('float', values, dims, hint));
  }

  int64s(values: number[], hint = 'i64'): string {
    return this.memoize(`i64:${values}`, () => this.g.int64s(values, hint));
  }

  /** Into float32 (a no-op in fp32 graphs). */
  toFloat32(value: string): string {
    return this.precision === 'fp16' ? this.g.cast(value, DataType.FLOAT) : value;
  }

  /** From float32 into the graph's float type (a no-op in fp32 graphs). */
  fromFloat32(value: string): string {
    return this.precision === 'fp16' ? this.g.cast(value, DataType.FLOAT16) : value;
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

export { attr };
