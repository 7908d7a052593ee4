// A T5 with the test set's seeded weights (@curator/models), built by @curator/graphs' T5 builder
// (the one real checkpoints go through) in the layouts the text generation engine reads, for
// engine tests that need variants the converted test set does not have (split decoders, the onnx/
// folder, other sizes):
//   onnx/encoder_model.onnx            input_ids, attention_mask -> last_hidden_state
//   onnx/decoder_model_merged.onnx     one graph, `If` on use_cache_branch (first step / cached steps)
//   onnx/decoder_model.onnx            first step: logits + present.* (decoder and encoder)
//   onnx/decoder_with_past_model.onnx  cached steps: logits + present.*.decoder.*
// and `_fp16` variants. Every layout and precision carries the same weights.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Precision } from '@curator/graphs/graph';
import { writeT5, t5FileName, type T5Part } from '@curator/graphs/t5';
import type { WeightSource } from '@curator/graphs/weights';
import { testSet } from '@curator/models';

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

/** The test set's seeded T5 weights (@curator/models), for `config`. */
export function seededT5Weights(config: T5Config, seed: number, eosScale: number): WeightSource {
  return testSet.seededT5Weights(config, seed, eosScale);
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
  if (options.tokenizer !== false) await testSet.writeT5Tokenizer(dir, { vocabSize: config.vocab_size });
  return { dir, files };
}
