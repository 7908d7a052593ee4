// A T5 with random weights, built by @curator/graphs' T5 builder (the one real checkpoints go
// through) in the layout optimum / Xenova export, so the text generation engine is tested on the
// graph interface it meets in production:
//   onnx/encoder_model.onnx            input_ids, attention_mask -> last_hidden_state
//   onnx/decoder_model_merged.onnx     one graph, `If` on use_cache_branch (first step / cached steps)
//   onnx/decoder_model.onnx            first step: logits + present.* (decoder and encoder)
//   onnx/decoder_with_past_model.onnx  cached steps: logits + present.*.decoder.*
// and `_fp16` variants. Every layout and precision carries the same weights.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Precision } from '@curator/graphs/graph';
import { writeT5, t5FileName, type T5Part } from '@curator/graphs/t5';
import { tensorWeights, transpose2d, type WeightSource } from '@curator/graphs/weights';
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

export { t5FileName };

/**
 * Seeded random T5 weights by state-dict name, in the checkpoint's layout (Linear [out, in]). One
 * seeded stream drawn in a fixed order (the generator's since its first version, so every test
 * tuned on these models sees the same weights), at T5's initialisation scales with two changes
 * that make a tiny random model generate usefully: sublayer outputs four times stronger (with tied
 * embeddings a token's own embedding otherwise dominates the residual stream and the model repeats
 * its input forever) and norm scales away from 1. The end-of-sequence embedding's norm sets how
 * soon outputs end (its tied logit scales with it).
 */
export function seededT5Weights(config: T5Config, seed: number, eosScale: number): WeightSource {
  const rng = new SeededRandom(seed);
  const { d_model: d, d_kv: dkv, num_heads: heads, d_ff: ff } = config;
  const inner = dkv * heads;
  const gain = 4;
  const tensors = new Map<string, Float32Array>();
  // Drawn as [in, out] (the order the first generator drew them), stored as PyTorch's [out, in].
  const linear = (name: string, inDim: number, outDim: number, std: number) => tensors.set(name, transpose2d(rng.normals(inDim * outDim, std), inDim, outDim));
  const norm = (name: string) => tensors.set(name, Float32Array.from({ length: d }, () => 1 + rng.normal(0.1)));
  const attention = (prefix: string) => {
    linear(`${prefix}.q.weight`, d, inner, (d * dkv) ** -0.5);
    linear(`${prefix}.k.weight`, d, inner, d ** -0.5);
    linear(`${prefix}.v.weight`, d, inner, d ** -0.5);
    linear(`${prefix}.o.weight`, inner, d, gain * inner ** -0.5);
  };
  const feedForward = (prefix: string) => {
    for (const wi of config.feed_forward_proj === 'gated-gelu' ? ['wi_0', 'wi_1'] : ['wi']) linear(`${prefix}.${wi}.weight`, d, ff, d ** -0.5);
    linear(`${prefix}.wo.weight`, ff, d, gain * ff ** -0.5);
  };
  const shared = rng.normals(config.vocab_size * d, 1);
  tensors.set('shared.weight', shared);
  if (config.tie_word_embeddings === false) linear('lm_head.weight', d, config.vocab_size, d ** -0.5);
  tensors.set('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', rng.normals(config.relative_attention_num_buckets * heads, 1));
  tensors.set('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', rng.normals(config.relative_attention_num_buckets * heads, 1));
  for (let i = 0; i < config.num_layers; i++) {
    attention(`encoder.block.${i}.layer.0.SelfAttention`);
    norm(`encoder.block.${i}.layer.0.layer_norm.weight`);
    feedForward(`encoder.block.${i}.layer.1.DenseReluDense`);
    norm(`encoder.block.${i}.layer.1.layer_norm.weight`);
  }
  for (let i = 0; i < (config.num_decoder_layers ?? config.num_layers); i++) {
    attention(`decoder.block.${i}.layer.0.SelfAttention`);
    norm(`decoder.block.${i}.layer.0.layer_norm.weight`);
    attention(`decoder.block.${i}.layer.1.EncDecAttention`);
    norm(`decoder.block.${i}.layer.1.layer_norm.weight`);
    feedForward(`decoder.block.${i}.layer.2.DenseReluDense`);
    norm(`decoder.block.${i}.layer.2.layer_norm.weight`);
  }
  norm('encoder.final_layer_norm.weight');
  norm('decoder.final_layer_norm.weight');
  for (let i = 0; i < d; i++) shared[config.eos_token_id * d + i]! *= eosScale;
  return tensorWeights(new Map([...tensors].map(([name, data]) => [name, { shape: shapeOf(name, config), data }])));
}

/** A T5 tensor's checkpoint shape (the builder checks every one it asks for against it). */
function shapeOf(name: string, config: T5Config): number[] {
  const { d_model: d, d_ff: ff } = config;
  const inner = config.d_kv * config.num_heads;
  if (name === 'shared.weight' || name === 'lm_head.weight') return [config.vocab_size, d];
  if (name.endsWith('relative_attention_bias.weight')) return [config.relative_attention_num_buckets, config.num_heads];
  if (name.endsWith('layer_norm.weight')) return [d];
  if (/\.[qkv]\.weight$/.test(name)) return [inner, d];
  if (name.endsWith('.o.weight')) return [d, inner];
  if (/\.wi(_[01])?\.weight$/.test(name)) return [ff, d];
  return [d, ff]; // wo
}

/**
 * Writes a randomly initialised T5 built from `config` into `dir` by the same builder as real
 * checkpoints (@curator/graphs): the encoder and the chosen decoder layouts and precisions,
 * config.json, generation_config.json and a small Unigram tokenizer.
 */
export async function writeTestT5(dir: string, config: T5Config = tinyT5Config, options: WriteTestT5Options = {}): Promise<{ dir: string; files: string[] }> {
  const layouts = options.layouts ?? ['merged', 'split'];
  const precisions = options.precisions ?? ['fp32'];
  const folder = join(dir, options.folder ?? 'onnx');
  await mkdir(folder, { recursive: true });
  const fullConfig: T5Config = {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    is_encoder_decoder: true,
    num_decoder_layers: config.num_layers,
    tie_word_embeddings: true,
    ...config,
  };
  const weights = seededT5Weights(fullConfig, options.seed ?? 1, options.eosEmbeddingScale ?? 2);
  const parts: T5Part[] = ['encoder_model'];
  if (layouts.includes('merged')) parts.push('decoder_model_merged');
  if (layouts.includes('split')) parts.push('decoder_model', 'decoder_with_past_model');
  const files: string[] = [];
  for (const precision of precisions) {
    const written = await writeT5(folder, fullConfig, weights, { precision, parts });
    files.push(...written.files.map((f) => f.path));
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(fullConfig, null, 2));
  await writeFile(
    join(dir, 'generation_config.json'),
    JSON.stringify({ decoder_start_token_id: config.decoder_start_token_id, eos_token_id: config.eos_token_id, pad_token_id: config.pad_token_id, ...options.generationConfig }, null, 2),
  );
  if (options.tokenizer !== false) await writeT5Tokenizer(dir, { vocabSize: config.vocab_size });
  return { dir, files };
}
