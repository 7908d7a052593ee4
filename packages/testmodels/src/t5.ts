// A real T5 encoder-decoder (random weights) exported the way optimum / Xenova export it, so the text
// generation engine is tested on the same graph interface it meets in production:
//   onnx/encoder_model.onnx            input_ids, attention_mask -> last_hidden_state
//   onnx/decoder_model_merged.onnx     one graph, `If` on use_cache_branch (first step / cached steps)
//   onnx/decoder_model.onnx            first step: logits + present.* (decoder and encoder)
//   onnx/decoder_with_past_model.onnx  cached steps: logits + present.*.decoder.*
// and `_fp16` variants. Every layout and precision carries the same weights.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, attr, DataType, type Precision } from '@curator/graphs/graph';
import { SeededRandom } from '@curator/graphs/random';
import { writeT5Tokenizer } from './t5-tokenizer.ts';

export interface T5Config {
  model_type?: 't5';
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_decoder_layers?: number;
  num_heads: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  feed_forward_proj: 'relu' | 'gated-gelu';
  tie_word_embeddings?: boolean;
  layer_norm_epsilon: number;
  decoder_start_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  [key: string]: unknown;
}

export type T5Layout = 'merged' | 'split';

/** A tiny T5 for tests: fast to build and to run. */
export const tinyT5Config: T5Config = {
  model_type: 't5',
  vocab_size: 300,
  d_model: 32,
  d_kv: 8,
  d_ff: 64,
  num_layers: 2,
  num_decoder_layers: 2,
  num_heads: 4,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  feed_forward_proj: 'relu',
  tie_word_embeddings: true,
  layer_norm_epsilon: 1e-6,
  decoder_start_token_id: 0,
  eos_token_id: 1,
  pad_token_id: 0,
};

/** The shape of google-t5/t5-small (60M parameters), for benchmarks. */
export const t5SmallConfig: T5Config = {
  model_type: 't5',
  vocab_size: 32128,
  d_model: 512,
  d_kv: 64,
  d_ff: 2048,
  num_layers: 6,
  num_decoder_layers: 6,
  num_heads: 8,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  feed_forward_proj: 'relu',
  tie_word_embeddings: true,
  layer_norm_epsilon: 1e-6,
  decoder_start_token_id: 0,
  eos_token_id: 1,
  pad_token_id: 0,
};

export interface WriteTestT5Options {
  layouts?: T5Layout[];
  precisions?: Precision[];
  seed?: number;
  /** Where the .onnx files go inside `dir`: `onnx` (the Xenova layout, default) or `.` (folder root). */
  folder?: string;
  /** Extra generation_config.json fields. */
  generationConfig?: Record<string, unknown>;
  /** Scale of the end-of-sequence embedding: larger ends outputs sooner (default 2). */
  eosEmbeddingScale?: number;
  /** Write tokenizer.json / tokenizer_config.json (default true). */
  tokenizer?: boolean;
}

/** File name of a model part: `decoder_model_merged` + precision suffix. */
export function t5FileName(part: 'encoder_model' | 'decoder_model_merged' | 'decoder_model' | 'decoder_with_past_model', precision: Precision): string {
  return `${part}${precision === 'fp16' ? '_fp16' : ''}.onnx`;
}

interface AttentionWeights {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
}

interface FeedForwardWeights {
  wi?: Float32Array;
  wi0?: Float32Array;
  wi1?: Float32Array;
  wo: Float32Array;
}

interface T5Weights {
  shared: Float32Array;
  lmHead?: Float32Array;
  encoderBias: Float32Array;
  decoderBias: Float32Array;
  encoder: { selfAttention: AttentionWeights; norm1: Float32Array; ffn: FeedForwardWeights; norm2: Float32Array }[];
  decoder: {
    selfAttention: AttentionWeights;
    norm1: Float32Array;
    crossAttention: AttentionWeights;
    norm2: Float32Array;
    ffn: FeedForwardWeights;
    norm3: Float32Array;
  }[];
  encoderFinalNorm: Float32Array;
  decoderFinalNorm: Float32Array;
}

/** Norm weights near 1 (not exactly 1, so a wrong norm shows in the outputs). */
function normWeights(rng: SeededRandom, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = 1 + rng.normal(0.1);
  return out;
}

/** Random weights with T5's initialisation scales (so activations stay in a sane range at any size). */
function randomWeights(config: T5Config, seed: number, eosScale: number): T5Weights {
  const rng = new SeededRandom(seed);
  const { d_model: d, d_kv: dkv, num_heads: heads, d_ff: ff } = config;
  const inner = dkv * heads;
  // With tied embeddings a token's own embedding dominates the residual stream of a random model,
  // which then repeats its input forever; stronger sublayer outputs make the continuation depend on
  // the context instead.
  const gain = 4;
  const attention = (): AttentionWeights => ({
    q: rng.normals(d * inner, (d * dkv) ** -0.5),
    k: rng.normals(d * inner, d ** -0.5),
    v: rng.normals(d * inner, d ** -0.5),
    o: rng.normals(inner * d, gain * inner ** -0.5),
  });
  const ffn = (): FeedForwardWeights =>
    config.feed_forward_proj === 'gated-gelu'
      ? { wi0: rng.normals(d * ff, d ** -0.5), wi1: rng.normals(d * ff, d ** -0.5), wo: rng.normals(ff * d, gain * ff ** -0.5) }
      : { wi: rng.normals(d * ff, d ** -0.5), wo: rng.normals(ff * d, gain * ff ** -0.5) };
  const shared = rng.normals(config.vocab_size * d, 1);
  const tied = config.tie_word_embeddings !== false;
  const weights: T5Weights = {
    shared,
    lmHead: tied ? undefined : rng.normals(d * config.vocab_size, d ** -0.5),
    encoderBias: rng.normals(config.relative_attention_num_buckets * heads, 1),
    decoderBias: rng.normals(config.relative_attention_num_buckets * heads, 1),
    encoder: Array.from({ length: config.num_layers }, () => ({ selfAttention: attention(), norm1: normWeights(rng, d), ffn: ffn(), norm2: normWeights(rng, d) })),
    decoder: Array.from({ length: config.num_decoder_layers ?? config.num_layers }, () => ({
      selfAttention: attention(),
      norm1: normWeights(rng, d),
      crossAttention: attention(),
      norm2: normWeights(rng, d),
      ffn: ffn(),
      norm3: normWeights(rng, d),
    })),
    encoderFinalNorm: normWeights(rng, d),
    decoderFinalNorm: normWeights(rng, d),
  };
  // The end-of-sequence embedding's norm sets how soon outputs end (its tied logit scales with it):
  // tuned so that outputs run several tokens and beams end at different lengths.
  const eos = config.eos_token_id;
  for (let i = 0; i < d; i++) shared[eos * d + i]! *= eosScale;
  return weights;
}

/** Graph-building helpers shared by the encoder and decoder graphs. */
class T5Ops {
  readonly g: GraphBuilder;
  readonly config: T5Config;
  constructor(g: GraphBuilder, config: T5Config) {
    this.g = g;
    this.config = config;
  }

  i64(value: number): string {
    return this.g.constant('int64', [value], [], 'i64');
  }

  f32(value: number): string {
    return this.g.scalar(value);
  }

  /** T5's RMS norm: no mean subtraction, no bias. */
  rmsNorm(x: string, weight: string): string {
    const g = this.g;
    const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, this.f32(this.config.layer_norm_epsilon)])])]);
    return g.op('Mul', [g.op('Mul', [x, inv]), weight]);
  }

  /** [B, T, H*dkv] -> [B, H, T, dkv] */
  splitHeads(x: string): string {
    const g = this.g;
    const reshaped = g.op('Reshape', [x, g.int64s([0, -1, this.config.num_heads, this.config.d_kv])]);
    return g.op('Transpose', [reshaped], { perm: attr.ints([0, 2, 1, 3]) });
  }

  /** [B, H, T, dkv] -> [B, T, H*dkv] */
  mergeHeads(x: string): string {
    const g = this.g;
    const t = g.op('Transpose', [x], { perm: attr.ints([0, 2, 1, 3]) });
    return g.op('Reshape', [t, g.int64s([0, -1, this.config.num_heads * this.config.d_kv])]);
  }

  /** Attention without the 1/sqrt(d) scaling (T5 folds it into the initialisation). */
  attend(q: string, k: string, v: string, bias: string, out: string): string {
    const g = this.g;
    const scores = g.op('Add', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) })]), bias]);
    const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
    return g.op('MatMul', [this.mergeHeads(g.op('MatMul', [probs, v])), out]);
  }

  feedForward(x: string, w: { wi?: string; wi0?: string; wi1?: string; wo: string }): string {
    const g = this.g;
    if (this.config.feed_forward_proj === 'gated-gelu') {
      const gate = this.geluNew(g.op('MatMul', [x, w.wi0!]));
      return g.op('MatMul', [g.op('Mul', [gate, g.op('MatMul', [x, w.wi1!])]), w.wo]);
    }
    return g.op('MatMul', [g.op('Relu', [g.op('MatMul', [x, w.wi!])]), w.wo]);
  }

  /** The tanh approximation of GELU that T5 v1.1 uses ("gelu_new"). */
  geluNew(x: string): string {
    const g = this.g;
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, this.f32(0.044715)])]), this.f32(Math.sqrt(2 / Math.PI))]);
    return g.op('Mul', [g.op('Mul', [x, this.f32(0.5)]), g.op('Add', [g.op('Tanh', [inner]), this.f32(1)])]);
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    const g = this.g;
    return g.op('Gather', [g.op('Shape', [x]), this.i64(axis)], { axis: attr.int(0) });
  }

  /**
   * T5's bucketed relative position bias, [1, H, queries, keys], computed in the graph so that it
   * follows the decoder's growing past. `causal` adds the decoder's mask of future positions.
   */
  positionBias(queryPositions: string, keyPositions: string, table: string, bidirectional: boolean): string {
    const g = this.g;
    const { relative_attention_num_buckets: numBuckets, relative_attention_max_distance: maxDistance } = this.config;
    const relative = g.op('Sub', [g.op('Unsqueeze', [keyPositions, g.int64s([0])]), g.op('Unsqueeze', [queryPositions, g.int64s([1])])]);
    let buckets = bidirectional ? numBuckets / 2 : numBuckets;
    let base: string | undefined;
    let distance: string;
    if (bidirectional) {
      buckets = Math.floor(numBuckets / 2);
      base = g.op('Mul', [g.cast(g.op('Greater', [relative, this.i64(0)]), DataType.INT64), this.i64(buckets)]);
      distance = g.op('Abs', [relative]);
    } else {
      distance = g.op('Max', [g.op('Neg', [relative]), this.i64(0)]);
    }
    const maxExact = Math.floor(buckets / 2);
    const isSmall = g.op('Less', [distance, this.i64(maxExact)]);
    const logRatio = g.op('Log', [g.op('Div', [g.cast(g.op('Max', [distance, this.i64(1)]), DataType.FLOAT), this.f32(maxExact)])]);
    const scaled = g.op('Mul', [g.op('Div', [logRatio, this.f32(Math.log(maxDistance / maxExact))]), this.f32(buckets - maxExact)]);
    const large = g.op('Min', [g.op('Add', [g.cast(g.op('Floor', [scaled]), DataType.INT64), this.i64(maxExact)]), this.i64(buckets - 1)]);
    let bucket = g.op('Where', [isSmall, distance, large]);
    if (base) bucket = g.op('Add', [bucket, base]);
    const bias = g.op('Transpose', [g.op('Gather', [table, bucket], { axis: attr.int(0) })], { perm: attr.ints([2, 0, 1]) });
    let result = g.op('Unsqueeze', [bias, g.int64s([0])]);
    if (!bidirectional) {
      const future = g.op('Greater', [relative, this.i64(0)]);
      const mask = g.op('Where', [future, this.f32(-1e9), this.f32(0)]);
      result = g.op('Add', [result, mask]);
    }
    return result;
  }

  /** [B, S] 0/1 mask -> additive [B, 1, 1, S]. */
  additiveMask(mask: string): string {
    const g = this.g;
    const m = g.cast(mask, DataType.FLOAT);
    const additive = g.op('Mul', [g.op('Sub', [this.f32(1), m]), this.f32(-1e9)]);
    return g.op('Unsqueeze', [additive, g.int64s([1, 2])]);
  }

  range(start: string, end: string): string {
    return this.g.op('Range', [start, end, this.i64(1)]);
  }
}

interface GraphAttention {
  q: string;
  k: string;
  v: string;
  o: string;
}

function addAttentionWeights(g: GraphBuilder, prefix: string, w: AttentionWeights, config: T5Config): GraphAttention {
  const inner = config.num_heads * config.d_kv;
  return {
    q: g.weight(`${prefix}.q.weight`, w.q, [config.d_model, inner]),
    k: g.weight(`${prefix}.k.weight`, w.k, [config.d_model, inner]),
    v: g.weight(`${prefix}.v.weight`, w.v, [config.d_model, inner]),
    o: g.weight(`${prefix}.o.weight`, w.o, [inner, config.d_model]),
  };
}

function addFeedForwardWeights(g: GraphBuilder, prefix: string, w: FeedForwardWeights, config: T5Config) {
  const { d_model: d, d_ff: ff } = config;
  return {
    wi: w.wi ? g.weight(`${prefix}.wi.weight`, w.wi, [d, ff]) : undefined,
    wi0: w.wi0 ? g.weight(`${prefix}.wi_0.weight`, w.wi0, [d, ff]) : undefined,
    wi1: w.wi1 ? g.weight(`${prefix}.wi_1.weight`, w.wi1, [d, ff]) : undefined,
    wo: g.weight(`${prefix}.wo.weight`, w.wo, [ff, d]),
  };
}

function buildEncoder(config: T5Config, weights: T5Weights, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-encoder', { precision });
  const ops = new T5Ops(g, config);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'encoder_sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const shared = g.weight('shared.weight', weights.shared, [config.vocab_size, config.d_model]);
  const table = g.weight('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', weights.encoderBias, [config.relative_attention_num_buckets, config.num_heads]);
  let x = g.op('Gather', [shared, inputIds], { axis: attr.int(0) });
  const positions = ops.range(ops.i64(0), ops.dim(inputIds, 1));
  const bias = g.op('Add', [ops.positionBias(positions, positions, table, true), ops.additiveMask(attentionMask)]);
  weights.encoder.forEach((layer, i) => {
    const p = `encoder.block.${i}`;
    const att = addAttentionWeights(g, `${p}.layer.0.SelfAttention`, layer.selfAttention, config);
    const h = ops.rmsNorm(x, g.weight(`${p}.layer.0.layer_norm.weight`, layer.norm1, [config.d_model]));
    const q = ops.splitHeads(g.op('MatMul', [h, att.q]));
    const k = ops.splitHeads(g.op('MatMul', [h, att.k]));
    const v = ops.splitHeads(g.op('MatMul', [h, att.v]));
    x = g.op('Add', [x, ops.attend(q, k, v, bias, att.o)]);
    const ffn = addFeedForwardWeights(g, `${p}.layer.1.DenseReluDense`, layer.ffn, config);
    const h2 = ops.rmsNorm(x, g.weight(`${p}.layer.1.layer_norm.weight`, layer.norm2, [config.d_model]));
    x = g.op('Add', [x, ops.feedForward(h2, ffn)]);
  });
  x = ops.rmsNorm(x, g.weight('encoder.final_layer_norm.weight', weights.encoderFinalNorm, [config.d_model]));
  g.output('last_hidden_state', 'float', ['batch_size', 'encoder_sequence_length', config.d_model], x);
  return g;
}

interface DecoderGraphWeights {
  shared: string;
  /** The transposed embedding for the tied head, made in the outer graph where it folds to a constant. */
  sharedTransposed: string;
  lmHead?: string;
  table: string;
  finalNorm: string;
  layers: { self: GraphAttention; norm1: string; cross: GraphAttention; norm2: string; ffn: ReturnType<typeof addFeedForwardWeights>; norm3: string }[];
}

function addDecoderWeights(g: GraphBuilder, config: T5Config, weights: T5Weights): DecoderGraphWeights {
  const d = config.d_model;
  const shared = g.weight('shared.weight', weights.shared, [config.vocab_size, d]);
  return {
    shared,
    sharedTransposed: g.op('Transpose', [shared], { perm: attr.ints([1, 0]) }),
    lmHead: weights.lmHead ? g.weight('lm_head.weight', weights.lmHead, [d, config.vocab_size]) : undefined,
    table: g.weight('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', weights.decoderBias, [config.relative_attention_num_buckets, config.num_heads]),
    finalNorm: g.weight('decoder.final_layer_norm.weight', weights.decoderFinalNorm, [d]),
    layers: weights.decoder.map((layer, i) => {
      const p = `decoder.block.${i}`;
      return {
        self: addAttentionWeights(g, `${p}.layer.0.SelfAttention`, layer.selfAttention, config),
        norm1: g.weight(`${p}.layer.0.layer_norm.weight`, layer.norm1, [d]),
        cross: addAttentionWeights(g, `${p}.layer.1.EncDecAttention`, layer.crossAttention, config),
        norm2: g.weight(`${p}.layer.1.layer_norm.weight`, layer.norm2, [d]),
        ffn: addFeedForwardWeights(g, `${p}.layer.2.DenseReluDense`, layer.ffn, config),
        norm3: g.weight(`${p}.layer.2.layer_norm.weight`, layer.norm3, [d]),
      };
    }),
  };
}

interface DecoderValues {
  inputIds: string;
  encoderAttentionMask: string;
  encoderHiddenStates?: string;
  past?: { decoderKey: string; decoderValue: string; encoderKey: string; encoderValue: string }[];
}

interface DecoderResult {
  logits: string;
  presents: { decoderKey: string; decoderValue: string; encoderKey: string; encoderValue: string }[];
}

/** The decoder body; with `past` it appends to the self-attention cache and reuses the cross-attention one. */
function decoderBody(g: GraphBuilder, config: T5Config, w: DecoderGraphWeights, values: DecoderValues): DecoderResult {
  const ops = new T5Ops(g, config);
  const { inputIds, past } = values;
  let x = g.op('Gather', [w.shared, inputIds], { axis: attr.int(0) });
  const newLength = ops.dim(inputIds, 1);
  const pastLength = past ? ops.dim(past[0]!.decoderKey, 2) : ops.i64(0);
  const totalLength = g.op('Add', [pastLength, newLength]);
  const selfBias = ops.positionBias(ops.range(pastLength, totalLength), ops.range(ops.i64(0), totalLength), w.table, false);
  const crossBias = ops.additiveMask(values.encoderAttentionMask);
  const presents: DecoderResult['presents'] = [];
  w.layers.forEach((layer, i) => {
    const h = ops.rmsNorm(x, layer.norm1);
    const q = ops.splitHeads(g.op('MatMul', [h, layer.self.q]));
    let k = ops.splitHeads(g.op('MatMul', [h, layer.self.k]));
    let v = ops.splitHeads(g.op('MatMul', [h, layer.self.v]));
    if (past) {
      k = g.op('Concat', [past[i]!.decoderKey, k], { axis: attr.int(2) });
      v = g.op('Concat', [past[i]!.decoderValue, v], { axis: attr.int(2) });
    }
    x = g.op('Add', [x, ops.attend(q, k, v, selfBias, layer.self.o)]);
    const h2 = ops.rmsNorm(x, layer.norm2);
    const q2 = ops.splitHeads(g.op('MatMul', [h2, layer.cross.q]));
    let encoderKey: string;
    let encoderValue: string;
    if (past) {
      encoderKey = past[i]!.encoderKey;
      encoderValue = past[i]!.encoderValue;
    } else {
      encoderKey = ops.splitHeads(g.op('MatMul', [values.encoderHiddenStates!, layer.cross.k]));
      encoderValue = ops.splitHeads(g.op('MatMul', [values.encoderHiddenStates!, layer.cross.v]));
    }
    x = g.op('Add', [x, ops.attend(q2, encoderKey, encoderValue, crossBias, layer.cross.o)]);
    const h3 = ops.rmsNorm(x, layer.norm3);
    x = g.op('Add', [x, ops.feedForward(h3, layer.ffn)]);
    presents.push({ decoderKey: k, decoderValue: v, encoderKey, encoderValue });
  });
  x = ops.rmsNorm(x, w.finalNorm);
  let logits: string;
  if (w.lmHead) {
    logits = g.op('MatMul', [x, w.lmHead]);
  } else {
    // Tied embeddings: T5 rescales the decoder output before the shared projection.
    const scaled = g.op('Mul', [x, ops.f32(config.d_model ** -0.5)]);
    logits = g.op('MatMul', [scaled, w.sharedTransposed]);
  }
  return { logits, presents };
}

const kvDims = (config: T5Config, length: string) => ['batch_size', config.num_heads, length, config.d_kv];

function declareDecoderOutputs(g: GraphBuilder, config: T5Config, result: DecoderResult, withEncoder: boolean, decoderLength: string): void {
  g.output('logits', 'float', ['batch_size', 'decoder_sequence_length', config.vocab_size], result.logits);
  result.presents.forEach((p, i) => {
    g.output(`present.${i}.decoder.key`, 'float', kvDims(config, decoderLength), p.decoderKey);
    g.output(`present.${i}.decoder.value`, 'float', kvDims(config, decoderLength), p.decoderValue);
    if (withEncoder) {
      g.output(`present.${i}.encoder.key`, 'float', kvDims(config, 'encoder_sequence_length_out'), p.encoderKey);
      g.output(`present.${i}.encoder.value`, 'float', kvDims(config, 'encoder_sequence_length_out'), p.encoderValue);
    }
  });
}

function declarePastInputs(g: GraphBuilder, config: T5Config): NonNullable<DecoderValues['past']> {
  return Array.from({ length: config.num_decoder_layers ?? config.num_layers }, (_, i) => ({
    decoderKey: g.input(`past_key_values.${i}.decoder.key`, 'float', kvDims(config, 'past_decoder_sequence_length')),
    decoderValue: g.input(`past_key_values.${i}.decoder.value`, 'float', kvDims(config, 'past_decoder_sequence_length')),
    encoderKey: g.input(`past_key_values.${i}.encoder.key`, 'float', kvDims(config, 'encoder_sequence_length_out')),
    encoderValue: g.input(`past_key_values.${i}.encoder.value`, 'float', kvDims(config, 'encoder_sequence_length_out')),
  }));
}

/** decoder_model.onnx: the first step, without past. */
function buildDecoder(config: T5Config, weights: T5Weights, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder', { precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'float', ['batch_size', 'encoder_sequence_length', config.d_model]);
  const w = addDecoderWeights(g, config, weights);
  const result = decoderBody(g, config, w, { inputIds, encoderAttentionMask, encoderHiddenStates });
  declareDecoderOutputs(g, config, result, true, 'decoder_sequence_length');
  return g;
}

/** decoder_with_past_model.onnx: one token per step on top of the cache (no encoder_hidden_states input, as exported). */
function buildDecoderWithPast(config: T5Config, weights: T5Weights, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder-with-past', { precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 1]);
  const past = declarePastInputs(g, config);
  const w = addDecoderWeights(g, config, weights);
  const result = decoderBody(g, config, w, { inputIds, encoderAttentionMask, past });
  declareDecoderOutputs(g, config, result, false, 'past_decoder_sequence_length + 1');
  return g;
}

/**
 * decoder_model_merged.onnx: both decoders in one graph sharing one copy of the weights; an `If` on
 * `use_cache_branch` picks the cached branch. Like optimum's merge, both branches produce every
 * output: the cached branch passes the encoder cache through unchanged.
 */
function buildMergedDecoder(config: T5Config, weights: T5Weights, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('t5-decoder-merged', { precision });
  const encoderAttentionMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderHiddenStates = g.input('encoder_hidden_states', 'float', ['batch_size', 'encoder_sequence_length', config.d_model]);
  const past = declarePastInputs(g, config);
  const useCacheBranch = g.input('use_cache_branch', 'bool', [1]);
  const w = addDecoderWeights(g, config, weights);

  const branch = (name: string, withPast: boolean): { graph: GraphBuilder; outputs: string[] } => {
    const sub = g.subgraph(name);
    const result = decoderBody(sub, config, w, { inputIds, encoderAttentionMask, encoderHiddenStates, past: withPast ? past : undefined });
    const outputs: string[] = [];
    const out = (value: string, label: string, dims: (number | string)[]) => {
      const name = sub.fresh(label);
      sub.output(name, 'float', dims, value);
      outputs.push(name);
    };
    out(result.logits, 'logits', ['batch_size', 'decoder_sequence_length', config.vocab_size]);
    for (const p of result.presents) {
      out(p.decoderKey, 'dk', kvDims(config, 'present_decoder_sequence_length'));
      out(p.decoderValue, 'dv', kvDims(config, 'present_decoder_sequence_length'));
      out(p.encoderKey, 'ek', kvDims(config, 'encoder_sequence_length_out'));
      out(p.encoderValue, 'ev', kvDims(config, 'encoder_sequence_length_out'));
    }
    return { graph: sub, outputs };
  };
  const cached = branch('with_past', true);
  const first = branch('without_past', false);
  const ifOutputs = g.node('If', [useCacheBranch], { then_branch: attr.graph(cached.graph), else_branch: attr.graph(first.graph) }, cached.outputs.length);
  const layers = config.num_decoder_layers ?? config.num_layers;
  g.output('logits', 'float', ['batch_size', 'decoder_sequence_length', config.vocab_size], ifOutputs[0]!);
  for (let i = 0; i < layers; i++) {
    const [dk, dv, ek, ev] = ifOutputs.slice(1 + i * 4, 5 + i * 4);
    g.output(`present.${i}.decoder.key`, 'float', kvDims(config, 'present_decoder_sequence_length'), dk!);
    g.output(`present.${i}.decoder.value`, 'float', kvDims(config, 'present_decoder_sequence_length'), dv!);
    g.output(`present.${i}.encoder.key`, 'float', kvDims(config, 'encoder_sequence_length_out'), ek!);
    g.output(`present.${i}.encoder.value`, 'float', kvDims(config, 'encoder_sequence_length_out'), ev!);
  }
  return g;
}

/**
 * Writes a randomly initialised T5 built from `config` into `dir`: the encoder and the chosen decoder
 * layouts and precisions, config.json, generation_config.json and a small Unigram tokenizer.
 */
export async function writeTestT5(dir: string, config: T5Config = tinyT5Config, options: WriteTestT5Options = {}): Promise<{ dir: string; files: string[] }> {
  const layouts = options.layouts ?? ['merged', 'split'];
  const precisions = options.precisions ?? ['fp32'];
  const folder = join(dir, options.folder ?? 'onnx');
  await mkdir(folder, { recursive: true });
  const weights = randomWeights(config, options.seed ?? 1, options.eosEmbeddingScale ?? 2);
  const files: string[] = [];
  const save = async (g: GraphBuilder, name: string) => {
    const path = join(folder, name);
    // Large models keep their weights in a side file, as real exports over 2 GB must.
    const large = config.vocab_size * config.d_model > 4_000_000;
    await g.save(path, large ? { externalData: { threshold: 1024 } } : {});
    files.push(path);
  };
  for (const precision of precisions) {
    await save(buildEncoder(config, weights, precision), t5FileName('encoder_model', precision));
    if (layouts.includes('merged')) await save(buildMergedDecoder(config, weights, precision), t5FileName('decoder_model_merged', precision));
    if (layouts.includes('split')) {
      await save(buildDecoder(config, weights, precision), t5FileName('decoder_model', precision));
      await save(buildDecoderWithPast(config, weights, precision), t5FileName('decoder_with_past_model', precision));
    }
  }
  const fullConfig = {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    is_encoder_decoder: true,
    num_decoder_layers: config.num_layers,
    tie_word_embeddings: true,
    ...config,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(fullConfig, null, 2));
  await writeFile(
    join(dir, 'generation_config.json'),
    JSON.stringify({ decoder_start_token_id: config.decoder_start_token_id, eos_token_id: config.eos_token_id, pad_token_id: config.pad_token_id, ...options.generationConfig }, null, 2),
  );
  if (options.tokenizer !== false) await writeT5Tokenizer(dir, { vocabSize: config.vocab_size });
  return { dir, files };
}
