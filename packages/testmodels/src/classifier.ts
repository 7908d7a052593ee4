// Tiny but real RoBERTa / BERT sequence classifiers in the layout of a Hugging Face ONNX export
// (model.onnx + config.json + tokenizer files). The weights are random, the arithmetic is the real
// encoder's: attention masks, RoBERTa's padding-aware position ids and the classification heads
// behave like the exported models, so code that batches, pads and truncates can be tested on them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, attr, DataType, type Precision } from '@curator/graphs/graph';
import { SeededRandom } from '@curator/graphs/random';
import { writeBertweetTokenizerFiles, writeBertWordPieceTokenizer } from './tokenizer-files.ts';

export type ClassifierArchitecture = 'roberta' | 'bert';

export interface TestClassifierOptions {
  architecture: ClassifierArchitecture;
  /** id2label, as in config.json. */
  labels: Record<number, string>;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  intermediateSize?: number;
  /** max_position_embeddings; RoBERTa reserves the first padding_idx + 1 rows (BERTweet: 130 for 128 tokens). */
  maxPositions?: number;
  /** Which model files to write: `model.onnx` (fp32) and/or `model_fp16.onnx` (float16 weights and logits). */
  precisions?: Precision[];
  seed?: number;
}

export interface ClassifierGraphSpec {
  architecture: ClassifierArchitecture;
  vocabSize: number;
  numLabels: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
  padTokenId: number;
  typeVocabSize: number;
  layerNormEps: number;
  seed: number;
}

export interface WrittenTestClassifier {
  dir: string;
  /** fp32 model (`model.onnx`), when written. */
  modelPath: string | undefined;
  /** fp16 model (`model_fp16.onnx`), when written. */
  fp16ModelPath: string | undefined;
  config: Record<string, unknown>;
  spec: ClassifierGraphSpec;
}

// Large enough that any mask value a real export uses (finfo.min) is matched in effect, small
// enough that adding a score to it stays finite.
const MASK_NEGATIVE = -3.4028234663852886e38;

/** The ONNX graph of a sequence classifier; inputs/outputs named exactly as in `optimum` exports. */
export function buildClassifierGraph(spec: ClassifierGraphSpec, precision: Precision = 'fp32'): GraphBuilder {
  const { hiddenSize: H, heads, intermediateSize: I } = spec;
  if (H % heads !== 0) throw new Error(`hiddenSize ${H} is not a multiple of heads ${heads}`);
  const headDim = H / heads;
  const rng = new SeededRandom(spec.seed);
  const g = new GraphBuilder(`${spec.architecture}-sequence-classifier`, { precision });
  // Matrices are scaled so every layer mixes tokens visibly (real init is std 0.02, which on a
  // 32-wide model would make all inputs give nearly the same logits).
  const matrixStd = 1 / Math.sqrt(H);
  const w = (name: string, dims: number[], std: number) => g.weight(name, rng.normals(dims.reduce((a, b) => a * b, 1), std), dims);
  const ones = (name: string, n: number) => g.weight(name, new Float32Array(n).fill(1), [n]);
  const linear = (x: string, prefix: string, inDim: number, outDim: number, std = matrixStd) => {
    const weight = w(`${prefix}.weight`, [inDim, outDim], std);
    const bias = w(`${prefix}.bias`, [outDim], 0.02);
    return g.op('Add', [g.op('MatMul', [x, weight]), bias]);
  };
  const layerNorm = (x: string, prefix: string) =>
    g.op('LayerNormalization', [x, ones(`${prefix}.weight`, H), w(`${prefix}.bias`, [H], 0.02)], { axis: attr.int(-1), epsilon: attr.float(spec.layerNormEps) });

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const tokenTypeIds = spec.architecture === 'bert' ? g.input('token_type_ids', 'int64', ['batch_size', 'sequence_length']) : undefined;

  // ---- embeddings ----
  const prefix = spec.architecture;
  const wordEmbeddings = w(`${prefix}.embeddings.word_embeddings.weight`, [spec.vocabSize, H], 1);
  const positionEmbeddings = w(`${prefix}.embeddings.position_embeddings.weight`, [spec.maxPositions, H], 0.5);
  const tokenTypeEmbeddings = w(`${prefix}.embeddings.token_type_embeddings.weight`, [spec.typeVocabSize, H], 0.5);
  const words = g.op('Gather', [wordEmbeddings, inputIds], { axis: attr.int(0) });

  let positions: string;
  let tokenTypes: string;
  if (spec.architecture === 'roberta') {
    // create_position_ids_from_input_ids: cumsum(input_ids != padding_idx) * mask + padding_idx, so
    // pad tokens sit at padding_idx and real tokens count from padding_idx + 1 whatever the padding.
    const notPad = g.cast(g.op('Not', [g.op('Equal', [inputIds, g.constant('int64', [spec.padTokenId], [], 'pad_id')])]), DataType.INT64);
    const cumulative = g.op('CumSum', [notPad, g.constant('int64', [1], [], 'axis')]);
    const positionIds = g.op('Add', [g.op('Mul', [cumulative, notPad]), g.constant('int64', [spec.padTokenId], [], 'pad_id')]);
    positions = g.op('Gather', [positionEmbeddings, positionIds], { axis: attr.int(0) });
    // RoBERTa's token type ids are a buffer of zeros: every token gets row 0.
    tokenTypes = g.op('Gather', [tokenTypeEmbeddings, g.constant('int64', [0], [], 'type0')], { axis: attr.int(0) });
  } else {
    const sequenceLength = g.op('Gather', [g.op('Shape', [inputIds]), g.constant('int64', [1], [], 'dim1')], { axis: attr.int(0) });
    const positionIds = g.op('Range', [g.constant('int64', [0], [], 'start'), sequenceLength, g.constant('int64', [1], [], 'step')]);
    positions = g.op('Gather', [positionEmbeddings, positionIds], { axis: attr.int(0) });
    tokenTypes = g.op('Gather', [tokenTypeEmbeddings, tokenTypeIds!], { axis: attr.int(0) });
  }
  let hidden = layerNorm(g.op('Add', [g.op('Add', [words, positions]), tokenTypes]), `${prefix}.embeddings.LayerNorm`);

  // Additive mask [batch, 1, 1, seq]: 0 where attended, a huge negative where padded.
  const maskFloat = g.op('Unsqueeze', [g.cast(attentionMask, DataType.FLOAT), g.int64s([1, 2], 'mask_axes')]);
  const additiveMask = g.op('Mul', [g.op('Sub', [g.scalar(1, 'one'), maskFloat]), g.scalar(MASK_NEGATIVE, 'mask_negative')]);

  const splitHeads = g.int64s([0, 0, heads, headDim], 'split_heads');
  const mergeHeads = g.int64s([0, 0, H], 'merge_heads');
  const scale = g.scalar(1 / Math.sqrt(headDim), 'attention_scale');
  const invSqrt2 = g.scalar(Math.SQRT1_2, 'inv_sqrt2');
  const half = g.scalar(0.5, 'half');
  const one = g.scalar(1, 'one');

  for (let layer = 0; layer < spec.layers; layer++) {
    const p = `${prefix}.encoder.layer.${layer}`;
    const project = (name: string) => g.op('Reshape', [linear(hidden, `${p}.attention.self.${name}`, H, H), splitHeads]);
    const query = g.op('Transpose', [project('query')], { perm: attr.ints([0, 2, 1, 3]) });
    const keyT = g.op('Transpose', [project('key')], { perm: attr.ints([0, 2, 3, 1]) });
    const value = g.op('Transpose', [project('value')], { perm: attr.ints([0, 2, 1, 3]) });
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [query, keyT]), scale]), additiveMask]);
    const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, value])], { perm: attr.ints([0, 2, 1, 3]) }), mergeHeads]);
    const attended = linear(context, `${p}.attention.output.dense`, H, H);
    hidden = layerNorm(g.op('Add', [attended, hidden]), `${p}.attention.output.LayerNorm`);

    const up = linear(hidden, `${p}.intermediate.dense`, H, I);
    // GELU, exact (erf) form as in the Hugging Face export.
    const gelu = g.op('Mul', [g.op('Mul', [up, half]), g.op('Add', [g.op('Erf', [g.op('Mul', [up, invSqrt2])]), one])]);
    const down = linear(gelu, `${p}.output.dense`, I, H, 1 / Math.sqrt(I));
    hidden = layerNorm(g.op('Add', [down, hidden]), `${p}.output.LayerNorm`);
  }

  // Both heads read the first token (<s> / [CLS]).
  const first = g.op('Gather', [hidden, g.constant('int64', [0], [], 'first')], { axis: attr.int(1) });
  const headStd = 2 / Math.sqrt(H);
  let logits: string;
  if (spec.architecture === 'roberta') {
    const dense = g.op('Tanh', [linear(first, 'classifier.dense', H, H, headStd)]);
    logits = linear(dense, 'classifier.out_proj', H, spec.numLabels, headStd);
  } else {
    const pooled = g.op('Tanh', [linear(first, 'bert.pooler.dense', H, H, headStd)]);
    logits = linear(pooled, 'classifier', H, spec.numLabels, headStd);
  }
  g.output('logits', 'float', ['batch_size', spec.numLabels], logits);
  return g;
}

/** config.json of the exported model, with the fields transformers and Curator read. */
export function classifierConfig(spec: ClassifierGraphSpec, labels: Record<number, string>): Record<string, unknown> {
  const id2label = Object.fromEntries(Object.entries(labels).map(([id, label]) => [String(id), label]));
  const label2id = Object.fromEntries(Object.entries(labels).map(([id, label]) => [label, Number(id)]));
  const roberta = spec.architecture === 'roberta';
  return {
    architectures: [roberta ? 'RobertaForSequenceClassification' : 'BertForSequenceClassification'],
    model_type: roberta ? 'roberta' : 'bert',
    hidden_size: spec.hiddenSize,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    intermediate_size: spec.intermediateSize,
    max_position_embeddings: spec.maxPositions,
    type_vocab_size: spec.typeVocabSize,
    vocab_size: spec.vocabSize,
    layer_norm_eps: spec.layerNormEps,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    position_embedding_type: 'absolute',
    pad_token_id: spec.padTokenId,
    ...(roberta ? { bos_token_id: 0, eos_token_id: 2 } : {}),
    id2label,
    label2id,
    problem_type: 'single_label_classification',
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
  };
}

/** Writes model.onnx / model_fp16.onnx, config.json and the tokenizer files into `dir`. */
export async function writeTestClassifier(dir: string, options: TestClassifierOptions): Promise<WrittenTestClassifier> {
  await mkdir(dir, { recursive: true });
  const roberta = options.architecture === 'roberta';
  const { vocabSize } = roberta ? await writeBertweetTokenizerFiles(dir) : await writeBertWordPieceTokenizer(dir);
  const padTokenId = roberta ? 1 : 0;
  const spec: ClassifierGraphSpec = {
    architecture: options.architecture,
    vocabSize,
    numLabels: Object.keys(options.labels).length,
    hiddenSize: options.hiddenSize ?? 32,
    layers: options.layers ?? 2,
    heads: options.heads ?? 2,
    intermediateSize: options.intermediateSize ?? 64,
    // RoBERTa positions start after padding_idx, so 128 tokens need 130 rows.
    maxPositions: options.maxPositions ?? (roberta ? 130 : 128),
    padTokenId,
    typeVocabSize: roberta ? 1 : 2,
    layerNormEps: roberta ? 1e-5 : 1e-12,
    seed: options.seed ?? 7,
  };
  const config = classifierConfig(spec, options.labels);
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const precisions = options.precisions ?? ['fp32', 'fp16'];
  let modelPath: string | undefined;
  let fp16ModelPath: string | undefined;
  for (const precision of precisions) {
    const path = join(dir, precision === 'fp16' ? 'model_fp16.onnx' : 'model.onnx');
    // Same seed for both precisions: the fp16 file is the fp32 model rounded, as a real conversion is.
    await buildClassifierGraph(spec, precision).save(path);
    if (precision === 'fp16') fp16ModelPath = path;
    else modelPath = path;
  }
  return { dir, modelPath, fp16ModelPath, config, spec };
}

export const sentimentLabels = { 0: 'NEG', 1: 'NEU', 2: 'POS' } as const;
export const genreLabels = { 0: 'business', 1: 'entertainment', 2: 'politics', 3: 'sport', 4: 'tech' } as const;

type ShapeOptions = Omit<TestClassifierOptions, 'architecture' | 'labels'>;

/** A BERTweet-like sentiment model (RoBERTa, labels NEG/NEU/POS as in finiteautomata/bertweet-base-sentiment-analysis). */
export function writeTestSentimentModel(dir: string, options: ShapeOptions = {}): Promise<WrittenTestClassifier> {
  return writeTestClassifier(dir, { seed: 2, ...options, architecture: 'roberta', labels: sentimentLabels });
}

/** A BERT news-genre model with the five BBC News labels. */
export function writeTestGenreModel(dir: string, options: ShapeOptions = {}): Promise<WrittenTestClassifier> {
  return writeTestClassifier(dir, { seed: 23, ...options, architecture: 'bert', labels: genreLabels });
}
