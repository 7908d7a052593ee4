// Where builders get their tensors: by checkpoint state-dict name, in the checkpoint's own layout,
// pulled only when the model is written (see writer.ts). The same builders run on a published
// checkpoint (an adapter over @curator/checkpoints' reader, made by the converter) or on seeded
// random tensors (tests and generated test models).
import type { GraphBuilder } from './graph.ts';
import { SeededRandom } from './random.ts';

/** Where a builder gets each tensor, by its checkpoint state-dict name (e.g. `encoder.block.0.layer.0.SelfAttention.q.weight`). */
export interface WeightSource {
  /** The tensor as float32 in the checkpoint's own layout (PyTorch Linear: [out, in]); must throw naming the tensor when missing or when its shape differs from `shape`. */
  get(name: string, shape: readonly number[]): Promise<Float32Array>;
}

/** A tensor a builder asked for: its state-dict name and its shape in the checkpoint. */
export interface WeightRequest {
  name: string;
  shape: number[];
}

export interface RandomWeightsOptions {
  /** Standard deviation of matrices and embeddings (default 0.02, transformers' `initializer_range`). */
  std?: number;
  /** Standard deviation of biases around 0 (default 0.02). */
  biasStd?: number;
  /** Standard deviation of norm scales around 1 (default 0.1: away from 1, so a swapped scale and bias shows). */
  normStd?: number;
  /** Per tensor: a distribution that overrides the defaults (return undefined to keep them). */
  init?: (name: string, shape: readonly number[]) => { mean?: number; std: number } | undefined;
}

/** A norm layer's scale: `LayerNorm.weight`, `layer_norm.weight`, `final_layer_norm.weight`, `norm1.weight`, `conv_norm_out.weight`... */
export function isNormWeight(name: string): boolean {
  return /(^|\.)[^.]*norm[^.]*\.weight$/i.test(name);
}

function hashName(seed: number, name: string): number {
  // FNV-1a over the UTF-16 code units, mixed with the seed: a tensor's values depend on the seed and
  // its name only, not on which other tensors were asked for first.
  let h = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Seeded random tensors by name: norm scales near 1, biases near 0, everything else N(0, std).
 * Deterministic per (seed, name, shape) on every machine.
 */
export function randomWeights(seed: number, options: RandomWeightsOptions = {}): WeightSource {
  const std = options.std ?? 0.02;
  const biasStd = options.biasStd ?? 0.02;
  const normStd = options.normStd ?? 0.1;
  return {
    async get(name, shape) {
      const count = shape.reduce((a, b) => a * b, 1);
      const rng = new SeededRandom(hashName(seed, name));
      const custom = options.init?.(name, shape);
      const { mean, deviation } = custom
        ? { mean: custom.mean ?? 0, deviation: custom.std }
        : isNormWeight(name)
          ? { mean: 1, deviation: normStd }
          : name.endsWith('.bias')
            ? { mean: 0, deviation: biasStd }
            : { mean: 0, deviation: std };
      const out = rng.normals(count, deviation);
      if (mean !== 0) for (let i = 0; i < count; i++) out[i]! += mean;
      return out;
    },
  };
}

/** Row-major [rows, cols] -> [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[row + c]!;
  }
  return out;
}

export interface WeightLayout {
  /** A PyTorch Linear weight [out, in] stored as [in, out] for MatMul (done once, when written). */
  transpose?: boolean;
  /** The initializer's dims when they differ from the checkpoint shape (a reshape of the same data). */
  dims?: number[];
  /** Keep this weight in float32 in fp16 graphs (a float32 island). */
  float32?: boolean;
}

/**
 * Binds checkpoint tensors to graphs: each `add` declares an initializer named after the tensor,
 * whose bytes are pulled from the source only when the graph is written, and records the request.
 * Asking twice for a name in one graph gives the same value; asking with another shape is a builder bug.
 */
export class WeightBinder {
  readonly source: WeightSource;
  private readonly requests = new Map<string, number[]>();
  private readonly bound = new WeakMap<GraphBuilder, Map<string, { value: string; key: string }>>();

  constructor(source: WeightSource) {
    this.source = source;
  }

  /** Every tensor asked for so far (in first-request order), with its checkpoint shape. */
  get requested(): WeightRequest[] {
    return [...this.requests].map(([name, shape]) => ({ name, shape: [...shape] }));
  }

  add(g: GraphBuilder, name: string, shape: number[], layout: WeightLayout = {}): string {
    const known = this.requests.get(name);
    if (known && known.join() !== shape.join()) throw new Error(`${name} requested as [${shape}] and as [${known}]`);
    this.requests.set(name, [...shape]);
    const key = `${shape}|${layout.transpose ?? false}|${layout.dims ?? ''}|${layout.float32 ?? false}`;
    let inGraph = this.bound.get(g);
    if (!inGraph) this.bound.set(g, (inGraph = new Map()));
    const existing = inGraph.get(name);
    if (existing) {
      if (existing.key !== key) throw new Error(`${name} bound twice in ${g.name} with different layouts`);
      return existing.value;
    }
    if (layout.transpose && shape.length !== 2) throw new Error(`${name}: only 2-D weights can be transposed`);
    const dims = layout.dims ?? (layout.transpose ? [shape[1]!, shape[0]!] : shape);
    if (dims.reduce((a, b) => a * b, 1) !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: [${dims}] does not hold [${shape}]`);
    const source = this.source;
    const value = g.lazyWeight(
      name,
      dims,
      async () => {
        const data = await source.get(name, shape);
        const count = shape.reduce((a, b) => a * b, 1);
        if (data.length !== count) throw new Error(`${name}: the weight source gave ${data.length} values for [${shape}]`);
        return layout.transpose ? transpose2d(data, shape[0]!, shape[1]!) : data;
      },
      { float32: layout.float32 },
    );
    inGraph.set(name, { value, key });
    return value;
  }
}

/** A WeightSource over tensors in memory (e.g. read from a fixture), checking names and shapes. */
export function tensorWeights(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): WeightSource {
  return {
    async get(name, shape) {
      const tensor = tensors.get(name);
      if (!tensor) throw new Error(`${name}: no such tensor`);
      if (tensor.shape.join() !== shape.join()) throw new Error(`${name} is [${tensor.shape}], asked for [${shape}]`);
      return tensor.data;
    },
  };
}
