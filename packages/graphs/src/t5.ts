// T5ForConditionalGeneration (transformers' modeling_t5) built from its config.json, with weights by
// their state-dict names, in the ONNX layout optimum / Xenova export and packages/textgen reads:
//   encoder_model.onnx            input_ids, attention_mask -> last_hidden_state
//   decoder_model_merged.onnx     an `If` on use_cache_branch: first step / cached steps, one copy of the weights
//   decoder_model.onnx            first step: logits + present.* (decoder and encoder)
//   decoder_with_past_model.onnx  cached steps: logits + present.*.decoder.*
// (`_fp16` before `.onnx` for float16 graphs).
import { join } from 'node:path';
import { GraphBuilder, attr, type Precision } from './graph.ts';
import { TextLayers, maskMinimum, parseActivation, type Activation } from './text-layers.ts';
import { WeightBinder, type WeightRequest, type WeightSource } from './weights.ts';
import type { WrittenModel, WriteModelOptions } from './writer.ts';

/** The config.json fields of a T5 checkpoint that shape the graph (transformers' T5Config names). */
export interface T5Spec {
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  numBuckets: number;
  maxDistance: number;
  /** `feed_forward_proj` "gated-*": wi_0 (activated) * wi_1. */
  gated: boolean;
  activation: Activation;
  /** `tie_word_embeddings` (default true): logits from `shared.weight`, decoder output scaled by d_model^-0.5; else `lm_head.weight`, unscaled. */
  tied: boolean;
  layerNormEpsilon: number;
}

function integer(config: Record<string, unknown>, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`config.json: ${key} must be a positive integer, got ${JSON.stringify(config[key])}`);
  return value;
}

function number(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`config.json: ${key} must be a number, got ${JSON.stringify(config[key])}`);
  return value;
}

/** Reads a T5 config.json with transformers' defaults (T5Config) and refuses what the builder cannot build. */
export function parseT5Config(config: Record<string, unknown>): T5Spec {
  if (config.model_type !== undefined && config.model_type !== 't5') throw new Error(`config.json: model_type ${JSON.stringify(config.model_type)} is not t5`);
  const feedForward = config.feed_forward_proj ?? 'relu';
  if (typeof feedForward !== 'string') throw new Error('config.json: feed_forward_proj must be a string');
  const parts = feedForward.split('-');
  if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) throw new Error(`config.json: feed_forward_proj ${feedForward} is not "<act>" or "gated-<act>"`);
  const gated = parts.length === 2;
  // transformers maps "gated-gelu" to the tanh approximation for backwards compatibility.
  const activation = feedForward === 'gated-gelu' ? 'gelu_new' : parseActivation(parts.at(-1), 'config.json: feed_forward_proj');
  const numLayers = integer(config, 'num_layers', 6);
  const spec: T5Spec = {
    vocabSize: integer(config, 'vocab_size', 32128),
    dModel: integer(config, 'd_model', 512),
    dKv: integer(config, 'd_kv', 64),
    dFf: integer(config, 'd_ff', 2048),
    numLayers,
    numDecoderLayers: config.num_decoder_layers == null ? numLayers : integer(config, 'num_decoder_layers'),
    numHeads: integer(config, 'num_heads', 8),
    numBuckets: integer(config, 'relative_attention_num_buckets', 32),
    maxDistance: integer(config, 'relative_attention_max_distance', 128),
    gated,
    activation,
    tied: config.tie_word_embeddings !== false,
    layerNormEpsilon: number(config, 'layer_norm_epsilon', 1e-6),
  };
  if (spec.numBuckets < 4) throw new Error('config.json: relative_attention_num_buckets must be at least 4');
  return spec;
}

/**
 * transformers' `_relative_position_bucket` for one relative position (key - query), computed in
 * float32 the way torch computes it so bucket boundaries land on the same positions.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  const f = Math.fround;
  let buckets = numBuckets;
  let base = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(numBuckets / 2);
    base = relative > 0 ? buckets : 0;
    distance = Math.abs(relative);
  } else {
    distance = Math.max(-relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return base + distance;
  const scaled = f(f(f(Math.log(f(distance / maxExact))) / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return base + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** Buckets of relative positions -maxDistance..maxDistance; beyond them the bucket no longer changes. */
function bucketTable(bidirectional: boolean, spec: T5Spec): number[] {
  return Array.from({ length: 2 * spec.maxDistance + 1 }, (_, i) => relativePositionBucket(i - spec.maxDistance, bidirectional, spec.numBuckets, spec.maxDistance));
}

/** The tied LM head's [d_model, vocab] table, one per graph (both If branches share it). */
const transposedEmbeddings = new WeakMap<GraphBuilder, string>();

/** Graph pieces of one T5 stack. The residual stream is float32 in every precision (see README). */
class T5Layers extends TextLayers {
  readonly spec: T5Spec;
  constructor(g: GraphBuilder, weights: WeightBinder, spec: T5Spec, weightGraph?: GraphBuilder) {
    super(g, weights, weightGraph);
    this.spec = spec;
  }

  get inner(): number {
    return this.spec.numHeads * this.spec.dKv;
  }

  /** T5LayerNorm on the float32 stream: RMS statistics in float32, then the scale in the compute type. */
  rmsNorm(x32: string, name: string): string {
    const g = this.g;
    const variance = g.op('ReduceMean', [g.op('Mul', [x32, x32])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const normed = g.op('Mul', [x32, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, this.scalar32(this.spec.layerNormEpsilon)])])])]);
    return g.op('Mul', [this.param(name, [this.spec.dModel]), g.fromFloat32(normed)]);
  }

  project(x: string, prefix: string, part: 'q' | 'k' | 'v'): string {
    const weight = this.param(`${prefix}.${part}.weight`, [this.inner, this.spec.dModel], { transpose: true });
    return this.splitHeads(this.g.op('MatMul', [x, weight]), this.spec.numHeads, this.spec.dKv);
  }

  /** Attention output through `o`, returned in float32 for the residual add. No 1/sqrt(d) scaling in T5. */
  attendAndProject(q: string, k: string, v: string, bias: string[], prefix: string): string {
    const context = this.attention(q, k, v, { bias, inner: this.inner });
    const o = this.param(`${prefix}.o.weight`, [this.spec.dModel, this.inner], { transpose: true });
    return this.g.toFloat32(this.g.op('MatMul', [context, o]));
  }

  /** T5DenseActDense / T5DenseGatedActDense; `wo` runs in float32 (transformers' `_keep_in_fp32_modules`). */
  feedForward(x: string, prefix: string): string {
    const g = this.g;
    const { dModel: d, dFf: ff } = this.spec;
    const up = (name: string) => g.op('MatMul', [x, this.param(`${prefix}.${name}.weight`, [ff, d], { transpose: true })]);
    const hidden = this.spec.gated ? g.op('Mul', [this.activation(up('wi_0'), this.spec.activation), up('wi_1')]) : this.activation(up('wi'), this.spec.activation);
    const wo = this.param(`${prefix}.wo.weight`, [d, ff], { transpose: true, float32: true });
    return g.op('MatMul', [g.toFloat32(hidden), wo]);
  }

  embed(inputIds: string): string {
    const shared = this.param('shared.weight', [this.spec.vocabSize, this.spec.dModel]);
    return this.g.toFloat32(this.g.op('Gather', [shared, inputIds], { axis: attr.int(0) }));
  }

  range(start: string, end: string): string {
    return this.g.op('Range', [start, end, this.i64(1)]);
  }

  /**
   * The bucketed relative position bias [1, H, queries, keys] from the stack's layer-0 table,
   * computed in the graph so it follows the decoder's growing past. The decoder's adds the causal mask.
   */
  positionBias(queryPositions: string, keyPositions: string, stack: 'encoder' | 'decoder'): string {
    const g = this.g;
    const bidirectional = stack === 'encoder';
    const { maxDistance, numBuckets, numHeads } = this.spec;
    const relative = g.op('Sub', [g.op('Unsqueeze', [keyPositions, this.int64s([0])]), g.op('Unsqueeze', [queryPositions, this.int64s([1])])]);
    const clipped = g.op('Min', [g.op('Max', [relative, this.i64(-maxDistance)]), this.i64(maxDistance)]);
    const table = this.memoize(`buckets:${bidirectional}`, () => g.constant('int64', bucketTable(bidirectional, this.spec), [2 * maxDistance + 1], 'buckets'));
    const bucket = g.op('Gather', [table, g.op('Add', [clipped, this.i64(maxDistance)])], { axis: attr.int(0) });
    const weights = this.param(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, [numBuckets, numHeads]);
    const values = g.op('Transpose', [g.op('Gather', [weights, bucket], { axis: attr.int(0) })], { perm: attr.ints([2, 0, 1]) });
    const bias = g.op('Unsqueeze', [values, this.int64s([0])]);
    if (bidirectional) return bias;
    const future = g.op('Greater', [relative, this.i64(0)]);
    return g.op('Add', [bias, g.op('Where', [future, this.scalar(maskMinimum(g.floatType)), this.scalar(0)])]);
  }

  /** The final norm and LM head: logits [B, T, vocab]. */
  logits(x32: string): string {
    const g = this.g;
    const { vocabSize: V, dModel: d } = this.spec;
    const hidden = this.rmsNorm(x32, 'decoder.final_layer_norm.weight');
    if (!this.spec.tied) return g.op('MatMul', [hidden, this.param('lm_head.weight', [V, d], { transpose: true })]);
    // Tied embeddings: T5 rescales the decoder output before the shared projection. The transposed
    // table is made in the outer graph, where onnxruntime folds it into a constant once.
    const outer = this.weightGraph;
    let sharedT = transposedEmbeddings.get(outer);
    if (!sharedT) {
      sharedT = outer.op('Transpose', [this.weights.add(outer, 'shared.weight', [V, d])], { perm: attr.ints([1, 0]) });
      transposedEmbeddings.set(outer, sharedT);
    }
    return g.op('MatMul', [g.op('Mul', [hidden, this.scalar(d ** -0.5)]), sharedT]);
  }
}

function encoderGraph(spec: T5Spec, weights: WeightBinder, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-encoder', { precision, compute: precision });
  const t5 = new T5Layers(g, weights, spec);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'encoder_sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  let x = t5.embed(inputIds);
  const positions = t5.range(t5.i64(0), t5.dim(inputIds, 1));
  const bias = [t5.positionBias(positions, positions, 'encoder'), t5.paddingMask(attentionMask)];
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `encoder.block.${i}`;
    const h = t5.rmsNorm(x, `${p}.layer.0.layer_norm.weight`);
    const att = `${p}.layer.0.SelfAttention`;
    x = g.op('Add', [x, t5.attendAndProject(t5.project(h, att, 'q'), t5.project(h, att, 'k'), t5.project(h, att, 'v'), bias, att)]);
    x = g.op('Add', [x, t5.feedForward(t5.rmsNorm(x, `${p}.layer.1.layer_norm.weight`), `${p}.layer.1.DenseReluDense`)]);
  }
  g.output('last_hidden_state', 'float', ['batch_size', 'encoder_sequence_length', spec.dModel], t5.rmsNorm(x, 'encoder.final_layer_norm.weight'));
  return g;
}

interface LayerCache {
  decoderKey: string;
  decoderValue: string;
  encoderKey: string;
  encoderValue: string;
}

/** The decoder stack; with `past` it appends to the self-attention cache and reuses the cross-attention one. */
function decoderBody(
  t5: T5Layers,
  values: { inputIds: string; encoderAttentionMask: string; encoderHiddenStates?: string; past?: LayerCache[] },
): { logits: string; presents: LayerCache[] } {
  const g = t5.g;
  const { inputIds, past } = values;
  let x = t5.embed(inputIds);
  const newLength = t5.dim(inputIds, 1);
  const pastLength = past ? t5.dim(past[0]!.decoderKey, 2) : t5.i64(0);
  const totalLength = g.op('Add', [pastLength, newLength]);
  const selfBias = [t5.positionBias(t5.range(pastLength, totalLength), t5.range(t5.i64(0), totalLength), 'decoder')];
  const crossBias = [t5.paddingMask(values.encoderAttentionMask)];
  const presents: LayerCache[] = [];
  for (let i = 0; i < t5.spec.numDecoderLayers; i++) {
    const p = `decoder.block.${i}`;
    const self = `${p}.layer.0.SelfAttention`;
    const h = t5.rmsNorm(x, `${p}.layer.0.layer_norm.weight`);
    let k = t5.project(h, self, 'k');
    let v = t5.project(h, self, 'v');
    if (past) {
      k = g.op('Concat', [past[i]!.decoderKey, k], { axis: attr.int(2) });
      v = g.op('Concat', [past[i]!.decoderValue, v], { axis: attr.int(2) });
    }
    x = g.op('Add', [x, t5.attendAndProject(t5.project(h, self, 'q'), k, v, selfBias, self)]);
    const cross = `${p}.layer.1.EncDecAttention`;
    const h2 = t5.rmsNorm(x, `${p}.layer.1.layer_norm.weight`);
    const encoderKey = past ? past[i]!.encoderKey : t5.project(values.encoderHiddenStates!, cross, 'k');
    const encoderValue = past ? past[i]!.encoderValue : t5.project(values.encoderHiddenStates!, cross, 'v');
    x = g.op('Add', [x, t5.attendAndProject(t5.project(h2, cross, 'q'), encoderKey, encoderValue, crossBias, cross)]);
    x = g.op('Add', [x, t5.feedForward(t5.rmsNorm(x, `${p}.layer.2.layer_norm.weight`), `${p}.layer.2.DenseReluDense`)]);
    presents.push({ decoderKey: k, decoderValue: v, encoderKey, encoderValue });
  }
  return { logits: t5.logits(x), presents };
}

const kvDims = (spec: T5Spec, length: string) => ['batch_size', spec.numHeads, length, spec.dKv];

function declarePast(g: GraphBuilder, spec: T5Spec): LayerCache[] {
  return Array.from({ length: spec.numDecoderLayers }, (_, i) => ({
    decoderKey: g.input(`past_key_values.${i}.decoder.key`, 'float', kvDims(spec, 'past_decoder_sequence_length')),
    decoderValue: g.input(`past_key_values.${i}.decoder.value`, 'float', kvDims(spec, 'past_decoder_sequence_length')),
    encoderKey: g.input(`past_key_values.${i}.encoder.key`, 'float', kvDims(spec, 'encoder_sequence_length_out')),
    encoderValue: g.input(`past_key_values.${i}.encoder.value`, 'float', kvDims(spec, 'encoder_sequence_length_out')),
  }));
}

function declareOutputs(g: GraphBuilder, spec: T5Spec, result: { logits: string; presents: LayerCache[] }, withEncoder: boolean, decoderLength: string): void {
  g.output('logits', 'float', ['batch_size', 'decoder_sequence_length', spec.vocabSize], result.logits);
  result.presents.forEach((p, i) => {
    g.output(`present.${i}.decoder.key`, 'float', kvDims(spec, decoderLength), p.decoderKey);
    g.output(`present.${i}.decoder.value`, 'float', kvDims(spec, decoderLength), p.decoderValue);
    if (withEncoder) {
      g.output(`present.${i}.encoder.key`, 'float', kvDims(spec, 'encoder_sequence_length_out'), p.encoderKey);
      g.output(`present.${i}.encoder.value`, 'float', kvDims(spec, 'encoder_sequence_length_out'), p.encoderValue);
    }
  });
}

/** decoder_model.onnx: the first step, without past. */
function decoderGraph(spec: T5Spec, weights: WeightBinder, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder', { precision, compute: precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'float', ['batch_size', 'encoder_sequence_length', spec.dModel]);
  const result = decoderBody(new T5Layers(g, weights, spec), { inputIds, encoderAttentionMask, encoderHiddenStates });
  declareOutputs(g, spec, result, true, 'decoder_sequence_length');
  return g;
}

/** decoder_with_past_model.onnx: one token per step on top of the cache (no encoder_hidden_states input, as exported). */
function decoderWithPastGraph(spec: T5Spec, weights: WeightBinder, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder-with-past', { precision, compute: precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 1]);
  const past = declarePast(g, spec);
  const result = decoderBody(new T5Layers(g, weights, spec), { inputIds, encoderAttentionMask, past });
  declareOutputs(g, spec, result, false, 'past_decoder_sequence_length + 1');
  return g;
}

/**
 * decoder_model_merged.onnx: both decoders in one graph sharing one copy of the weights; an `If` on
 * `use_cache_branch` picks the cached branch. As in optimum's merge, both branches produce every
 * output: the cached branch passes the encoder cache through unchanged.
 */
function mergedDecoderGraph(spec: T5Spec, weights: WeightBinder, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder-merged', { precision, compute: precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'float', ['batch_size', 'encoder_sequence_length', spec.dModel]);
  const past = declarePast(g, spec);
  const useCacheBranch = g.input('use_cache_branch', 'bool', [1]);
  const branch = (name: string, withPast: boolean) => {
    const sub = g.subgraph(name);
    const result = decoderBody(new T5Layers(sub, weights, spec, g), { inputIds, encoderAttentionMask, encoderHiddenStates, past: withPast ? past : undefined });
    const outputs: string[] = [];
    const out = (value: string, label: string, dims: (number | string)[]) => {
      const outName = sub.fresh(label);
      sub.output(outName, 'float', dims, value);
      outputs.push(outName);
    };
    out(result.logits, 'logits', ['batch_size', 'decoder_sequence_length', spec.vocabSize]);
    for (const p of result.presents) {
      out(p.decoderKey, 'dk', kvDims(spec, 'present_decoder_sequence_length'));
      out(p.decoderValue, 'dv', kvDims(spec, 'present_decoder_sequence_length'));
      out(p.encoderKey, 'ek', kvDims(spec, 'encoder_sequence_length_out'));
      out(p.encoderValue, 'ev', kvDims(spec, 'encoder_sequence_length_out'));
    }
    return { graph: sub, outputs };
  };
  const cached = branch('with_past', true);
  const first = branch('without_past', false);
  const results = g.node('If', [useCacheBranch], { then_branch: attr.graph(cached.graph), else_branch: attr.graph(first.graph) }, cached.outputs.length);
  g.output('logits', 'float', ['batch_size', 'decoder_sequence_length', spec.vocabSize], results[0]!);
  for (let i = 0; i < spec.numDecoderLayers; i++) {
    const [dk, dv, ek, ev] = results.slice(1 + i * 4, 5 + i * 4);
    g.output(`present.${i}.decoder.key`, 'float', kvDims(spec, 'present_decoder_sequence_length'), dk!);
    g.output(`present.${i}.decoder.value`, 'float', kvDims(spec, 'present_decoder_sequence_length'), dv!);
    g.output(`present.${i}.encoder.key`, 'float', kvDims(spec, 'encoder_sequence_length_out'), ek!);
    g.output(`present.${i}.encoder.value`, 'float', kvDims(spec, 'encoder_sequence_length_out'), ev!);
  }
  return g;
}

export type T5Part = 'encoder_model' | 'decoder_model_merged' | 'decoder_model' | 'decoder_with_past_model';

/** File name of a T5 part: `decoder_model_merged` + `_fp16` for float16 graphs + `.onnx`. */
export function t5FileName(part: T5Part, precision: Precision): string {
  return `${part}${precision === 'fp16' ? '_fp16' : ''}.onnx`;
}

const partBuilders: Record<T5Part, (spec: T5Spec, weights: WeightBinder, precision: Precision) => GraphBuilder> = {
  encoder_model: encoderGraph,
  decoder_model_merged: mergedDecoderGraph,
  decoder_model: decoderGraph,
  decoder_with_past_model: decoderWithPastGraph,
};

/** One T5 graph, its weights bound (lazily) to `weights`. */
export function buildT5Graph(part: T5Part, config: Record<string, unknown> | T5Spec, weights: WeightBinder, precision: Precision = 'fp32'): GraphBuilder {
  const spec = 'dModel' in config ? (config as T5Spec) : parseT5Config(config);
  return partBuilders[part](spec, weights, precision);
}

export interface WriteT5Options extends Pick<WriteModelOptions, 'externalDataAbove' | 'onProgress'> {
  /** Which graphs (default: encoder + merged decoder, what optimum exports by default). */
  parts?: T5Part[];
  precision?: Precision;
}

export interface WrittenT5 {
  files: WrittenModel[];
  /** Every checkpoint tensor the graphs asked for, with its checkpoint shape. */
  requested: WeightRequest[];
}

/** Builds and writes the T5 graphs of `config` into `dir`, pulling each weight from `weights` as it is written. */
export async function writeT5(dir: string, config: Record<string, unknown>, weights: WeightSource, options: WriteT5Options = {}): Promise<WrittenT5> {
  const spec = parseT5Config(config);
  const precision = options.precision ?? 'fp32';
  const binder = new WeightBinder(weights);
  const files: WrittenModel[] = [];
  for (const part of options.parts ?? ['encoder_model', 'decoder_model_merged']) {
    const graph = buildT5Graph(part, spec, binder, precision);
    files.push(await graph.save(join(dir, t5FileName(part, precision)), { externalDataAbove: options.externalDataAbove, onProgress: options.onProgress }));
  }
  return { files, requested: binder.requested };
}

/** The names and shapes of every tensor a T5 of `config` has in its safetensors state dict. */
export function t5WeightRequests(config: Record<string, unknown>): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  const spec = parseT5Config(config);
  buildT5Graph('encoder_model', spec, binder);
  buildT5Graph('decoder_model', spec, binder);
  return binder.requested;
}
