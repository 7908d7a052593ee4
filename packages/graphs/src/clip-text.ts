// CLIPTextModel (transformers' modeling_clip; Stable Diffusion's text encoder) built from config.json,
// weights by their published state-dict names (`text_model.*`), as `text_encoder/model.onnx` with the
// interface optimum exports and packages/diffusion reads:
//   input_ids [batch_size, sequence_length] (int64, or int32 as diffusers' own ONNX script exports it)
//   -> last_hidden_state [batch_size, sequence_length, hidden_size], pooler_output [batch_size, hidden_size]
import { GraphBuilder, attr, DataType, type Precision } from './graph.ts';
import { TextLayers, maskMinimum, parseActivation, type Activation } from './text-layers.ts';
import { WeightBinder, type WeightRequest, type WeightSource } from './weights.ts';
import type { WrittenModel, WriteModelOptions } from './writer.ts';

export interface ClipTextSpec {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  maxPositions: number;
  activation: Activation;
  layerNormEps: number;
  /** 2 (the old configs, SD v1's among them) selects transformers' legacy pooling: the position of the largest id. */
  eosTokenId: number;
}

function positiveInteger(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`config.json: ${key} must be a positive integer, got ${JSON.stringify(config[key])}`);
  return value;
}

/** Reads a CLIP text config.json (a `text_encoder/config.json`, or a full CLIP config's `text_config`) with transformers' defaults. */
export function parseClipTextConfig(config: Record<string, unknown>): ClipTextSpec {
  const text = config.model_type === 'clip' && config.text_config && typeof config.text_config === 'object' ? (config.text_config as Record<string, unknown>) : config;
  const spec: ClipTextSpec = {
    vocabSize: positiveInteger(text, 'vocab_size', 49408),
    hiddenSize: positiveInteger(text, 'hidden_size', 512),
    intermediateSize: positiveInteger(text, 'intermediate_size', 2048),
    numLayers: positiveInteger(text, 'num_hidden_layers', 12),
    numHeads: positiveInteger(text, 'num_attention_heads', 8),
    maxPositions: positiveInteger(text, 'max_position_embeddings', 77),
    activation: parseActivation(text.hidden_act ?? 'quick_gelu', 'config.json: hidden_act'),
    layerNormEps: typeof text.layer_norm_eps === 'number' ? text.layer_norm_eps : 1e-5,
    eosTokenId: typeof text.eos_token_id === 'number' ? text.eos_token_id : 49407,
  };
  if (spec.hiddenSize % spec.numHeads !== 0) throw new Error(`config.json: hidden_size ${spec.hiddenSize} is not a multiple of num_attention_heads ${spec.numHeads}`);
  return spec;
}

export interface ClipTextGraphOptions {
  precision?: Precision;
  /** Element type of input_ids (default int64, as optimum exports it). */
  inputIdsType?: 'int64' | 'int32';
  /** A fixed sequence length (77 for Stable Diffusion) instead of a dynamic one. */
  sequenceLength?: number;
}

/** The ONNX graph of a CLIP text encoder; weights bound (lazily) to `weights`. */
export function buildClipTextEncoder(config: Record<string, unknown> | ClipTextSpec, weights: WeightBinder, options: ClipTextGraphOptions = {}): GraphBuilder {
  const spec = 'hiddenSize' in config ? (config as ClipTextSpec) : parseClipTextConfig(config);
  const precision = options.precision ?? 'fp32';
  const { hiddenSize: H, numHeads: heads, intermediateSize: I, layerNormEps: eps } = spec;
  const headDim = H / heads;
  const g = new GraphBuilder('clip-text-encoder', { precision, compute: precision });
  const t = new TextLayers(g, weights);
  const length = options.sequenceLength ?? 'sequence_length';
  const inputIds = g.input('input_ids', options.inputIdsType ?? 'int64', ['batch_size', length]);
  const ids = options.inputIdsType === 'int32' ? g.cast(inputIds, DataType.INT64) : inputIds;

  // ---- embeddings: tokens + positions 0..S-1 ----
  const tokens = g.op('Gather', [t.param('text_model.embeddings.token_embedding.weight', [spec.vocabSize, H]), ids], { axis: attr.int(0) });
  const positionIds = g.op('Range', [t.i64(0), t.dim(ids, 1), t.i64(1)]);
  const positions = g.op('Gather', [t.param('text_model.embeddings.position_embedding.weight', [spec.maxPositions, H]), positionIds], { axis: attr.int(0) });
  let x = g.op('Add', [tokens, positions]);

  // ---- causal mask [1, 1, S, S]: keys after the query are masked ----
  const later = g.op('Greater', [g.op('Unsqueeze', [positionIds, t.int64s([0])]), g.op('Unsqueeze', [positionIds, t.int64s([1])])]);
  const causal = g.op('Unsqueeze', [g.op('Where', [later, t.scalar(maskMinimum(g.floatType)), t.scalar(0)]), t.int64s([0, 1])]);

  // ---- pre-norm encoder layers ----
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const p = `text_model.encoder.layers.${layer}`;
    const h = t.layerNorm(x, `${p}.layer_norm1`, H, eps);
    const project = (name: string) => t.splitHeads(t.linear(h, `${p}.self_attn.${name}`, H, H), heads, headDim);
    const context = t.attention(project('q_proj'), project('k_proj'), project('v_proj'), { scale: headDim ** -0.5, bias: [causal], inner: H });
    x = g.op('Add', [x, t.linear(context, `${p}.self_attn.out_proj`, H, H)]);
    const mlp = t.linear(t.activation(t.linear(t.layerNorm(x, `${p}.layer_norm2`, H, eps), `${p}.mlp.fc1`, H, I), spec.activation), `${p}.mlp.fc2`, I, H);
    x = g.op('Add', [x, mlp]);
  }
  const last = t.layerNorm(x, 'text_model.final_layer_norm', H, eps);
  g.output('last_hidden_state', 'float', ['batch_size', length, H], last);

  // ---- pooler_output: the hidden state at the end-of-text position of each row ----
  // eos_token_id 2 (configs from before transformers#24773): the position of the largest id (the
  // end-of-text id is the vocabulary's last); otherwise the first position of eos_token_id.
  const ids32 = g.cast(ids, DataType.INT32);
  const key = spec.eosTokenId === 2 ? ids32 : g.cast(g.op('Equal', [ids32, g.constant('int32', [spec.eosTokenId], [], 'eos')]), DataType.INT32);
  const position = g.op('ArgMax', [key], { axis: attr.int(-1), keepdims: attr.int(1) });
  const pooled = g.op('GatherND', [last, position], { batch_dims: attr.int(1) });
  g.output('pooler_output', 'float', ['batch_size', H], pooled);
  return g;
}

export interface WrittenClipTextEncoder {
  file: WrittenModel;
  requested: WeightRequest[];
}

/** Builds and writes the text encoder of `config` to `path` (`text_encoder/model.onnx`). */
export async function writeClipTextEncoder(
  path: string,
  config: Record<string, unknown>,
  weights: WeightSource,
  options: ClipTextGraphOptions & Pick<WriteModelOptions, 'externalDataAbove' | 'onProgress'> = {},
): Promise<WrittenClipTextEncoder> {
  const binder = new WeightBinder(weights);
  const graph = buildClipTextEncoder(config, binder, options);
  const file = await graph.save(path, { externalDataAbove: options.externalDataAbove, onProgress: options.onProgress });
  return { file, requested: binder.requested };
}

/** The names and shapes of every tensor a CLIP text encoder of `config` has in its state dict. */
export function clipTextWeightRequests(config: Record<string, unknown>): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildClipTextEncoder(config, binder);
  return binder.requested;
}
