// RobertaForSequenceClassification and BertForSequenceClassification (transformers' modeling_roberta /
// modeling_bert) built from config.json, weights by state-dict name, as `model.onnx` with the inputs
// and output optimum exports and packages/classifier reads:
//   input_ids, attention_mask (+ token_type_ids for BERT) [batch_size, sequence_length] int64
//   -> logits [batch_size, num_labels]
import { GraphBuilder, attr, DataType, type Precision } from './graph.ts';
import { TextLayers, parseActivation, type Activation } from './text-layers.ts';
import { WeightBinder, type WeightRequest, type WeightSource } from './weights.ts';
import type { WrittenModel, WriteModelOptions } from './writer.ts';

export type EncoderArchitecture = 'bert' | 'roberta';

export interface EncoderClassifierSpec {
  architecture: EncoderArchitecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  activation: Activation;
  /** RoBERTa's padding_idx: positions count from it (create_position_ids_from_input_ids). */
  padTokenId: number;
  numLabels: number;
  problemType: string | undefined;
}

function positiveInteger(config: Record<string, unknown>, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`config.json: ${key} must be a positive integer, got ${JSON.stringify(config[key])}`);
  return value;
}

/** The classifier's architecture from config.json (`model_type`, else `architectures`). */
export function encoderArchitectureOf(config: Record<string, unknown>): EncoderArchitecture {
  const type = config.model_type;
  if (type === 'bert' || type === 'roberta') return type;
  const architectures = Array.isArray(config.architectures) ? config.architectures : [];
  if (architectures.includes('BertForSequenceClassification')) return 'bert';
  if (architectures.includes('RobertaForSequenceClassification')) return 'roberta';
  throw new Error(`config.json: model_type ${JSON.stringify(type)} is neither bert nor roberta`);
}

/** The number of labels as transformers derives it: from id2label when present, else num_labels (default 2). */
function labelCount(config: Record<string, unknown>): number {
  const id2label = config.id2label;
  if (id2label && typeof id2label === 'object' && Object.keys(id2label).length > 0) return Object.keys(id2label).length;
  return positiveInteger(config, 'num_labels', 2);
}

/** Reads a BERT / RoBERTa sequence-classifier config.json with transformers' defaults. */
export function parseEncoderClassifierConfig(config: Record<string, unknown>): EncoderClassifierSpec {
  const architecture = encoderArchitectureOf(config);
  const positionType = config.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') throw new Error(`config.json: position_embedding_type ${JSON.stringify(positionType)} is not supported (only absolute)`);
  if (config.is_decoder === true) throw new Error('config.json: is_decoder models are not sequence classifiers');
  const roberta = architecture === 'roberta';
  const spec: EncoderClassifierSpec = {
    architecture,
    vocabSize: positiveInteger(config, 'vocab_size', roberta ? 50265 : 30522),
    hiddenSize: positiveInteger(config, 'hidden_size', 768),
    numLayers: positiveInteger(config, 'num_hidden_layers', 12),
    numHeads: positiveInteger(config, 'num_attention_heads', 12),
    intermediateSize: positiveInteger(config, 'intermediate_size', 3072),
    maxPositions: positiveInteger(config, 'max_position_embeddings', 512),
    typeVocabSize: positiveInteger(config, 'type_vocab_size', 2),
    layerNormEps: typeof config.layer_norm_eps === 'number' ? config.layer_norm_eps : 1e-12,
    activation: parseActivation(config.hidden_act ?? 'gelu', 'config.json: hidden_act'),
    padTokenId: typeof config.pad_token_id === 'number' ? config.pad_token_id : roberta ? 1 : 0,
    numLabels: labelCount(config),
    problemType: typeof config.problem_type === 'string' ? config.problem_type : undefined,
  };
  if (spec.hiddenSize % spec.numHeads !== 0) throw new Error(`config.json: hidden_size ${spec.hiddenSize} is not a multiple of num_attention_heads ${spec.numHeads}`);
  return spec;
}

/** The ONNX graph of a sequence classifier; weights bound (lazily) to `weights`. */
export function buildEncoderClassifier(config: Record<string, unknown> | EncoderClassifierSpec, weights: WeightBinder, precision: Precision = 'fp32'): GraphBuilder {
  const spec = 'hiddenSize' in config ? (config as EncoderClassifierSpec) : parseEncoderClassifierConfig(config);
  const { hiddenSize: H, numHeads: heads, intermediateSize: I, layerNormEps: eps } = spec;
  const headDim = H / heads;
  const prefix = spec.architecture;
  const g = new GraphBuilder(`${prefix}-sequence-classifier`, { precision, compute: precision });
  const t = new TextLayers(g, weights);

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const tokenTypeIds = spec.architecture === 'bert' ? g.input('token_type_ids', 'int64', ['batch_size', 'sequence_length']) : undefined;

  // ---- embeddings: words + token types, + positions, LayerNorm ----
  const table = (name: string, rows: number) => t.param(`${prefix}.embeddings.${name}.weight`, [rows, H]);
  const words = g.op('Gather', [table('word_embeddings', spec.vocabSize), inputIds], { axis: attr.int(0) });
  let positionIds: string;
  let tokenTypes: string;
  if (spec.architecture === 'roberta') {
    // create_position_ids_from_input_ids: cumsum(ids != padding_idx) * (ids != padding_idx) + padding_idx,
    // so pad tokens sit at padding_idx and real tokens count from padding_idx + 1, whatever the padding.
    const notPad = g.cast(g.op('Not', [g.op('Equal', [inputIds, t.i64(spec.padTokenId)])]), DataType.INT64);
    const cumulative = g.op('CumSum', [notPad, t.i64(1)]);
    positionIds = g.op('Add', [g.op('Mul', [cumulative, notPad]), t.i64(spec.padTokenId)]);
    // No token_type_ids input (as exported): transformers uses its buffer of zeros, i.e. row 0 for every token.
    tokenTypes = g.op('Gather', [table('token_type_embeddings', spec.typeVocabSize), t.int64s([0])], { axis: attr.int(0) });
  } else {
    positionIds = g.op('Range', [t.i64(0), t.dim(inputIds, 1), t.i64(1)]);
    tokenTypes = g.op('Gather', [table('token_type_embeddings', spec.typeVocabSize), tokenTypeIds!], { axis: attr.int(0) });
  }
  const positions = g.op('Gather', [table('position_embeddings', spec.maxPositions), positionIds], { axis: attr.int(0) });
  let hidden = t.layerNorm(g.op('Add', [g.op('Add', [words, tokenTypes]), positions]), `${prefix}.embeddings.LayerNorm`, H, eps);

  // ---- encoder: post-norm layers ----
  const mask = t.paddingMask(attentionMask);
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const p = `${prefix}.encoder.layer.${layer}`;
    const project = (name: string) => t.splitHeads(t.linear(hidden, `${p}.attention.self.${name}`, H, H), heads, headDim);
    const context = t.attention(project('query'), project('key'), project('value'), { scale: 1 / Math.sqrt(headDim), bias: [mask], inner: H });
    hidden = t.layerNorm(g.op('Add', [t.linear(context, `${p}.attention.output.dense`, H, H), hidden]), `${p}.attention.output.LayerNorm`, H, eps);
    const up = t.activation(t.linear(hidden, `${p}.intermediate.dense`, H, I), spec.activation);
    hidden = t.layerNorm(g.op('Add', [t.linear(up, `${p}.output.dense`, I, H), hidden]), `${p}.output.LayerNorm`, H, eps);
  }

  // ---- head on the first token (<s> / [CLS]) ----
  const first = g.op('Gather', [hidden, t.i64(0)], { axis: attr.int(1) });
  let logits: string;
  if (spec.architecture === 'roberta') {
    const dense = g.op('Tanh', [t.linear(first, 'classifier.dense', H, H)]);
    logits = t.linear(dense, 'classifier.out_proj', H, spec.numLabels);
  } else {
    const pooled = g.op('Tanh', [t.linear(first, 'bert.pooler.dense', H, H)]);
    logits = t.linear(pooled, 'classifier', H, spec.numLabels);
  }
  g.output('logits', 'float', ['batch_size', spec.numLabels], logits);
  return g;
}

export interface WrittenEncoderClassifier {
  file: WrittenModel;
  requested: WeightRequest[];
}

/** Builds and writes the classifier of `config` to `path` (`model.onnx` / `model_fp16.onnx`). */
export async function writeEncoderClassifier(
  path: string,
  config: Record<string, unknown>,
  weights: WeightSource,
  options: { precision?: Precision } & Pick<WriteModelOptions, 'externalDataAbove' | 'onProgress'> = {},
): Promise<WrittenEncoderClassifier> {
  const binder = new WeightBinder(weights);
  const graph = buildEncoderClassifier(config, binder, options.precision ?? 'fp32');
  const file = await graph.save(path, { externalDataAbove: options.externalDataAbove, onProgress: options.onProgress });
  return { file, requested: binder.requested };
}

/** The names and shapes of every tensor a classifier of `config` has in its state dict. */
export function encoderClassifierWeightRequests(config: Record<string, unknown>): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildEncoderClassifier(config, binder);
  return binder.requested;
}
