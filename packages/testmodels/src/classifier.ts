// Tiny RoBERTa / BERT sequence classifiers in the layout of a Hugging Face ONNX export (model.onnx
// + config.json + tokenizer files) with options the test set does not vary (sizes, precisions), for
// engine tests. Built by @curator/graphs' classifier builder (the one real checkpoints go through)
// with the test set's seeded weights and tokenizers (@curator/models): attention masks, RoBERTa's padding-aware position
// ids and the classification heads behave like the exported models, so code that batches, pads and
// truncates can be tested on them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Precision } from '@curator/graphs/graph';
import { writeEncoderClassifier } from '@curator/graphs/encoder-classifier';
import type { WeightSource } from '@curator/graphs/weights';
import { testSet } from '@curator/models';

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

/** Seeded random classifier weights by state-dict name (the test set's, @curator/models). */
export function randomClassifierWeights(spec: ClassifierGraphSpec): WeightSource {
  return testSet.randomClassifierWeights(spec.seed);
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
  const { vocabSize } = roberta ? await testSet.writeBertweetTokenizerFiles(dir) : await testSet.writeBertWordPieceTokenizer(dir);
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
    // Same weights for both precisions: the fp16 file is the fp32 model rounded, as a real conversion is.
    await writeEncoderClassifier(path, config, randomClassifierWeights(spec), { precision });
    if (precision === 'fp16') fp16ModelPath = path;
    else modelPath = path;
  }
  return { dir, modelPath, fp16ModelPath, config, spec };
}

export const { sentimentLabels, genreLabels } = testSet;

type ShapeOptions = Omit<TestClassifierOptions, 'architecture' | 'labels'>;

/** A BERTweet-like sentiment model (RoBERTa, labels NEG/NEU/POS as in finiteautomata/bertweet-base-sentiment-analysis). */
export function writeTestSentimentModel(dir: string, options: ShapeOptions = {}): Promise<WrittenTestClassifier> {
  return writeTestClassifier(dir, { seed: 2, ...options, architecture: 'roberta', labels: sentimentLabels });
}

/** A BERT news-genre model with the five BBC News labels. */
export function writeTestGenreModel(dir: string, options: ShapeOptions = {}): Promise<WrittenTestClassifier> {
  return writeTestClassifier(dir, { seed: 23, ...options, architecture: 'bert', labels: genreLabels });
}
