// The classifier engine: runs inside a ModelThread (see @curator/inference), so onnxruntime's
// blocking run() never stalls the worker's main loop.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from '@curator/inference/ort';
import type { Engine, EngineCallContext, EngineHost } from '@curator/inference';
import { CuratorError, isCuratorError, type AnalysisTask } from '@curator/contracts';
import { loadTokenizer, type BertweetPreprocessing } from '@curator/tokenizers';
import { labelsFromConfig, softmax } from './labels.ts';
import { float16BitsToFloat32 } from '@curator/inference/float16';

export type ClassifierPrecision = 'fp32' | 'fp16' | 'int8';

export interface ClassifierEngineOptions {
  /** Folder of a Hugging Face ONNX export: config.json, tokenizer files, model.onnx / model_fp16.onnx. */
  modelDir: string;
  modelId: string;
  task: AnalysisTask;
  precision?: ClassifierPrecision;
  /** Defaults to CPU; the worker passes what device resolution chose. */
  executionProviders?: ort.InferenceSession.ExecutionProviderConfig[];
  sessionOptions?: Omit<ort.InferenceSession.SessionOptions, 'executionProviders'>;
  /** Texts per run() call; longer lists are split. */
  maxBatchSize?: number;
  /**
   * BERTweet models only (vocab.txt + bpe.codes): what a text goes through before tokenizing.
   * 'pysentimiento' (default) is what the sentiment model was trained with; 'huggingface' is what
   * transformers' pipeline feeds it. See @curator/tokenizers.
   */
  preprocessing?: BertweetPreprocessing;
}

export interface ClassifierInfo {
  modelId: string;
  task: AnalysisTask;
  /** Curator labels in class-id order. */
  labels: string[];
  precision: ClassifierPrecision;
  modelFile: string;
  inputNames: string[];
  /** Token window: longer texts are truncated to it. */
  limit: number;
  loadMs: number;
}

export interface ClassificationResult {
  label: string;
  /** Probability per label, summing to 1. */
  scores: Record<string, number>;
  /** Tokens the model saw (special tokens included). */
  tokens: number;
  limit: number;
  truncated: boolean;
  /** Tokens the whole text encodes to, before truncation. */
  originalTokens: number;
}

const modelFiles: Record<ClassifierPrecision, string> = { fp32: 'model.onnx', fp16: 'model_fp16.onnx', int8: 'model_quantized.onnx' };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function missing(options: ClassifierEngineOptions, file: string): CuratorError {
  return new CuratorError('model_missing', `Model ${options.modelId} is missing ${file} in ${options.modelDir}`, {
    details: [{ path: file, message: `not found in ${options.modelDir}` }],
  });
}

function loadFailed(options: ClassifierEngineOptions, what: string, error: unknown): CuratorError {
  if (isCuratorError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CuratorError('model_load_failed', `Model ${options.modelId}: ${what}: ${message}`, { cause: error });
}

/** The model file for a precision: at the folder root (Curator exports) or under onnx/ (transformers.js layout). */
async function findModelFile(options: ClassifierEngineOptions, precision: ClassifierPrecision): Promise<string> {
  const file = modelFiles[precision];
  for (const candidate of [file, `onnx/${file}`]) if (await exists(join(options.modelDir, candidate))) return candidate;
  throw missing(options, file);
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * The token window: the tokenizer's model_max_length, bounded by the position table. RoBERTa
 * models number positions from pad_token_id + 1, so 130 rows hold 128 tokens.
 */
function tokenWindow(config: Record<string, unknown>, tokenizerMax: number | undefined): number {
  const positions = positiveInt(config.max_position_embeddings);
  const offset = config.model_type === 'roberta' || config.model_type === 'xlm-roberta' || config.model_type === 'camembert' ? (positiveInt(config.pad_token_id) ?? 1) + 1 : 0;
  const fromPositions = positions === undefined ? undefined : positions - offset;
  const candidates = [fromPositions, tokenizerMax].filter((v): v is number => v !== undefined && v > 0 && Number.isFinite(v));
  return candidates.length > 0 ? Math.min(...candidates) : 512;
}

function readLogits(tensor: ort.Tensor): number[] {
  const data = tensor.data;
  // Float16 logits arrive as raw bits in a Uint16Array (the ort shim hides Float16Array).
  if (tensor.type === 'float16' && data instanceof Uint16Array) return Array.from(data, float16BitsToFloat32);
  return Array.from(data as ArrayLike<number>, Number);
}

function int64Tensor(rows: readonly (readonly number[])[], width: number): ort.Tensor {
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c++) data[r * width + c] = BigInt(row[c] ?? 0);
  });
  return new ort.Tensor('int64', data, [rows.length, width]);
}

export async function createEngine(options: ClassifierEngineOptions, host: EngineHost): Promise<Engine> {
  const started = performance.now();
  const precision = options.precision ?? 'fp32';
  const maxBatchSize = Math.max(1, options.maxBatchSize ?? 16);

  if (!(await exists(options.modelDir))) {
    const expected = ['config.json', modelFiles[precision]];
    throw new CuratorError('model_missing', `Model ${options.modelId}: folder ${options.modelDir} does not exist (expected ${expected.join(', ')} and tokenizer files there)`, {
      details: expected.map((file) => ({ path: file, message: `not found: ${options.modelDir} does not exist` })),
    });
  }
  if (!(await exists(join(options.modelDir, 'config.json')))) throw missing(options, 'config.json');
  const modelFile = await findModelFile(options, precision);

  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(options.modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw loadFailed(options, 'config.json is not valid JSON', error);
  }
  const labels = labelsFromConfig(options.task, config.id2label);
  if (!labels) throw new CuratorError('model_load_failed', `Model ${options.modelId}: config.json has no usable id2label`);

  let tokenizer: Awaited<ReturnType<typeof loadTokenizer>>;
  try {
    tokenizer = await loadTokenizer(options.modelDir, options.preprocessing ? { preprocessing: options.preprocessing } : {});
  } catch (error) {
    throw loadFailed(options, 'tokenizer failed to load', error);
  }

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(join(options.modelDir, modelFile), {
      ...options.sessionOptions,
      executionProviders: options.executionProviders ?? ['cpu'],
    });
  } catch (error) {
    throw loadFailed(options, `${modelFile} failed to load`, error);
  }
  const inputNames = [...session.inputNames];
  for (const required of ['input_ids', 'attention_mask']) {
    if (!inputNames.includes(required)) throw new CuratorError('model_load_failed', `Model ${options.modelId}: ${modelFile} has no input ${required} (inputs: ${inputNames.join(', ')})`);
  }
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  const feedsTokenTypes = inputNames.includes('token_type_ids');
  const limit = tokenWindow(config, positiveInt(tokenizer.modelMaxLength));

  async function classifyBatch(texts: string[]): Promise<ClassificationResult[]> {
    const encoded = tokenizer.encodeBatch(texts, { maxLength: limit, padTo: 'longest' });
    const width = Math.max(1, ...encoded.inputIds.map((row) => row.length));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64Tensor(encoded.inputIds, width),
      attention_mask: int64Tensor(encoded.attentionMask, width),
    };
    if (feedsTokenTypes) feeds.token_type_ids = int64Tensor(texts.map(() => []), width);
    let output: ort.InferenceSession.ReturnType;
    try {
      output = await session.run(feeds);
    } catch (error) {
      throw new CuratorError('inference_failed', `Model ${options.modelId} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error, retryable: false });
    }
    const logits = readLogits(output[outputName]!);
    if (logits.length !== texts.length * labels!.length) {
      throw new CuratorError('inference_failed', `Model ${options.modelId} returned ${logits.length} logits for ${texts.length} texts and ${labels!.length} labels`);
    }
    return texts.map((_, i) => {
      const probabilities = softmax(logits.slice(i * labels!.length, (i + 1) * labels!.length));
      let best = 0;
      for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
      const tokens = encoded.attentionMask[i]!.reduce((sum: number, v: number) => sum + Number(v), 0);
      return {
        label: labels![best]!,
        scores: Object.fromEntries(labels!.map((label, k) => [label, probabilities[k]!])),
        tokens,
        limit,
        truncated: encoded.truncated[i]!,
        originalTokens: encoded.originalLengths[i]!,
      };
    });
  }

  const info: ClassifierInfo = { modelId: options.modelId, task: options.task, labels, precision, modelFile, inputNames, limit, loadMs: performance.now() - started };
  host.log('info', 'classifier loaded', { modelId: options.modelId, task: options.task, precision, modelFile, limit, loadMs: Math.round(info.loadMs) });

  return {
    info,
    methods: {
      async classify(args: { texts: string[] }, context: EngineCallContext): Promise<ClassificationResult[]> {
        if (!args || !Array.isArray(args.texts) || args.texts.some((t) => typeof t !== 'string')) {
          throw new CuratorError('bad_input', 'classify takes { texts: string[] }', { details: [{ path: 'texts', message: 'must be an array of strings' }] });
        }
        const results: ClassificationResult[] = [];
        for (let start = 0; start < args.texts.length; start += maxBatchSize) {
          context.throwIfCanceled();
          results.push(...(await classifyBatch(args.texts.slice(start, start + maxBatchSize))));
          context.progress({ done: results.length, of: args.texts.length });
        }
        return results;
      },
      async warmup(): Promise<number> {
        const warmStarted = performance.now();
        await classifyBatch(['warm up']);
        return performance.now() - warmStarted;
      },
    },
    async close() {
      await session.release();
    },
  };
}
