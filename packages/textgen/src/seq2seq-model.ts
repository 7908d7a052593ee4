// The ONNX sessions of an encoder-decoder export (optimum / Xenova layout) and the tensor plumbing
// of one decoder step. Runs inside the engine thread.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { CuratorError } from '@curator/contracts';
import { readGenerationConfig, type ModelGenerationConfig } from './options.ts';
import { decodeFloat16 } from '@curator/inference/float16';

/** fp32, fp16 (`_fp16` files, float16 I/O) or int8 (`_quantized` files: dynamically quantized, float32 I/O). */
export type Precision = 'fp32' | 'fp16' | 'int8';
export type DecoderLayout = 'merged' | 'split';

export interface Seq2SeqLoadOptions {
  modelDir: string;
  precision?: Precision;
  /** Which decoder export to use; by default the merged one when present, else the split pair. */
  decoder?: DecoderLayout;
  executionProviders?: ort.InferenceSession.SessionOptions['executionProviders'];
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

type Tensor = ort.Tensor;
type TypedArray = Float32Array | Uint16Array | BigInt64Array | Uint8Array;

/** A new tensor whose first dimension holds `rows[i]`-th slices of `tensor` (gather along axis 0). */
export function gatherRows(tensor: Tensor, rows: readonly number[]): Tensor {
  const data = tensor.data as TypedArray;
  const dims = tensor.dims;
  const rowSize = dims[0] === 0 ? 0 : data.length / dims[0]!;
  const Ctor = data.constructor as { new (length: number): TypedArray };
  const out = new Ctor(rows.length * rowSize);
  if (rowSize > 0) rows.forEach((row, i) => (out as Float32Array).set((data as Float32Array).subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
  return new ort.Tensor(tensor.type as 'float32', out as Float32Array, [rows.length, ...dims.slice(1)]);
}


/** Logits of the last position of every row, as float32 ([rows][vocab]); float32 rows are views, not copies. */
export function lastPositionLogits(logits: Tensor): Float32Array[] {
  const [rows, length, vocab] = logits.dims as [number, number, number];
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const start = (r * length + length - 1) * vocab;
    if (logits.type === 'float16') {
      const half = (logits.data as Uint16Array).subarray(start, start + vocab);
      out.push(decodeFloat16(half, new Float32Array(vocab)));
    } else {
      out.push((logits.data as Float32Array).subarray(start, start + vocab));
    }
  }
  return out;
}

export function int64Tensor(rows: readonly (readonly number[])[]): Tensor {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => row.forEach((v, c) => (data[r * width + c] = BigInt(v))));
  return new ort.Tensor('int64', data, [rows.length, width]);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CuratorError('model_load_failed', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** The cache of one batch: self-attention KV (grows every step) and cross-attention KV (fixed). */
export interface DecoderCache {
  decoder: Tensor[];
  encoder: Tensor[];
}

export interface EncoderState {
  hiddenStates: Tensor;
  attentionMask: Tensor;
}

export class Seq2SeqModel {
  readonly config: Record<string, unknown>;
  readonly generation: ModelGenerationConfig;
  readonly precision: Precision;
  readonly layout: DecoderLayout;
  readonly files: string[];
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headSize: number;
  readonly vocabSize: number;
  readonly #encoder: ort.InferenceSession;
  // The merged decoder serves both steps; the split form has one session for each.
  readonly #firstStep: ort.InferenceSession;
  readonly #cachedStep: ort.InferenceSession;
  readonly #merged: boolean;
  #floatType: 'float32' | 'float16';

  private constructor(args: {
    config: Record<string, unknown>;
    generation: ModelGenerationConfig;
    precision: Precision;
    layout: DecoderLayout;
    files: string[];
    encoder: ort.InferenceSession;
    firstStep: ort.InferenceSession;
    cachedStep: ort.InferenceSession;
  }) {
    this.config = args.config;
    this.generation = args.generation;
    this.precision = args.precision;
    this.layout = args.layout;
    this.files = args.files;
    this.#encoder = args.encoder;
    this.#firstStep = args.firstStep;
    this.#cachedStep = args.cachedStep;
    this.#merged = args.layout === 'merged';
    this.#floatType = args.precision === 'fp16' ? 'float16' : 'float32';
    const num = (key: string, fallback?: number): number => {
      const v = args.config[key];
      if (typeof v === 'number') return v;
      if (fallback !== undefined) return fallback;
      throw new CuratorError('model_load_failed', `config.json lacks ${key}`);
    };
    this.numLayers = num('num_decoder_layers', num('num_layers'));
    this.numHeads = num('num_heads');
    this.headSize = num('d_kv');
    this.vocabSize = num('vocab_size');
  }

  static async load(options: Seq2SeqLoadOptions): Promise<Seq2SeqModel> {
    const precision = options.precision ?? 'fp32';
    const suffix = precision === 'fp16' ? '_fp16' : precision === 'int8' ? '_quantized' : '';
    // Xenova's layout keeps the graphs under onnx/; plain optimum exports keep them at the root.
    const find = async (name: string): Promise<string | undefined> => {
      for (const candidate of [join(options.modelDir, 'onnx', `${name}${suffix}.onnx`), join(options.modelDir, `${name}${suffix}.onnx`)]) {
        if (await exists(candidate)) return candidate;
      }
      return undefined;
    };
    const [encoderPath, mergedPath, decoderPath, withPastPath] = await Promise.all([
      find('encoder_model'),
      find('decoder_model_merged'),
      find('decoder_model'),
      find('decoder_with_past_model'),
    ]);
    const layout: DecoderLayout | undefined =
      options.decoder ?? (mergedPath ? 'merged' : decoderPath && withPastPath ? 'split' : undefined);
    const missing = (what: string) =>
      new CuratorError('model_missing', `${options.modelDir}: no ${what} (${precision}) in onnx/ or at the folder root`, { details: [{ path: options.modelDir, message: what }] });
    if (!encoderPath) throw missing(`encoder_model${suffix}.onnx`);
    if (!layout || (layout === 'merged' && !mergedPath)) throw missing(`decoder_model_merged${suffix}.onnx or decoder_model${suffix}.onnx + decoder_with_past_model${suffix}.onnx`);
    if (layout === 'split' && (!decoderPath || !withPastPath)) throw missing(`decoder_model${suffix}.onnx + decoder_with_past_model${suffix}.onnx`);
    const [config, generationConfig] = await Promise.all([readJson(join(options.modelDir, 'config.json')), readJson(join(options.modelDir, 'generation_config.json'))]);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...options.sessionOptions,
      ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    };
    const open = async (path: string) => {
      try {
        return await ort.InferenceSession.create(path, sessionOptions);
      } catch (error) {
        throw new CuratorError('model_load_failed', `${path}: ${(error as Error).message}`, { cause: error });
      }
    };
    const files = layout === 'merged' ? [encoderPath, mergedPath!] : [encoderPath, decoderPath!, withPastPath!];
    const sessions = await Promise.all(files.map(open));
    const encoder = sessions[0]!;
    const firstStep = sessions[1]!;
    const cachedStep = sessions[2] ?? firstStep;
    return new Seq2SeqModel({ config, generation: readGenerationConfig(config, generationConfig), precision, layout, files, encoder, firstStep, cachedStep });
  }

  /** Runs the encoder on right-padded inputs (to the longest, or to `padTo` when longer), masking the padding. */
  async encode(inputs: readonly (readonly number[])[], padTo = 0): Promise<EncoderState> {
    const width = Math.max(padTo, ...inputs.map((ids) => ids.length));
    const padded = inputs.map((ids) => [...ids, ...new Array<number>(width - ids.length).fill(this.generation.padTokenId)]);
    const mask = inputs.map((ids) => Array.from({ length: width }, (_, i) => (i < ids.length ? 1 : 0)));
    const inputIds = int64Tensor(padded);
    const attentionMask = int64Tensor(mask);
    const out = await this.#encoder.run({ input_ids: inputIds, attention_mask: attentionMask });
    const hiddenStates = out.last_hidden_state;
    if (!hiddenStates) throw new CuratorError('inference_failed', 'encoder returned no last_hidden_state');
    this.#floatType = hiddenStates.type === 'float16' ? 'float16' : 'float32';
    return { hiddenStates, attentionMask };
  }

  #emptyPast(rows: number): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    const make = (length: number) =>
      new ort.Tensor(this.#floatType, this.#floatType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [rows, this.numHeads, length, this.headSize]);
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.decoder.key`] = make(0);
      feeds[`past_key_values.${i}.decoder.value`] = make(0);
      // An empty encoder past too: the first-step branch computes the cross-attention cache itself.
      feeds[`past_key_values.${i}.encoder.key`] = make(0);
      feeds[`past_key_values.${i}.encoder.value`] = make(0);
    }
    return feeds;
  }

  #feed(session: ort.InferenceSession, all: Record<string, Tensor>): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    for (const name of session.inputNames) {
      const value = all[name];
      if (!value) throw new CuratorError('inference_failed', `decoder input ${name} is not one this engine provides`);
      feeds[name] = value;
    }
    return feeds;
  }

  /**
   * The decoder without a cache over whole sequences [rows, length]: the first step of cached
   * decoding, and every step of the recomputing path. Returns the logits and the full cache.
   */
  async decodeFull(decoderIds: readonly (readonly number[])[], encoder: EncoderState): Promise<{ logits: Tensor; cache: DecoderCache }> {
    const rows = decoderIds.length;
    const all: Record<string, Tensor> = {
      input_ids: int64Tensor(decoderIds),
      encoder_attention_mask: encoder.attentionMask,
      encoder_hidden_states: encoder.hiddenStates,
      use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
      ...(this.#merged ? this.#emptyPast(rows) : {}),
    };
    const out = await this.#firstStep.run(this.#feed(this.#firstStep, all));
    return { logits: out.logits!, cache: this.#cacheFrom(out, true) };
  }

  /** One cached step: the last token of every row on top of `cache`. */
  async decodeStep(lastTokens: readonly number[], encoder: EncoderState, cache: DecoderCache): Promise<{ logits: Tensor; cache: DecoderCache }> {
    const all: Record<string, Tensor> = {
      input_ids: int64Tensor(lastTokens.map((t) => [t])),
      encoder_attention_mask: encoder.attentionMask,
      encoder_hidden_states: encoder.hiddenStates,
      use_cache_branch: new ort.Tensor('bool', new Uint8Array([1]), [1]),
    };
    for (let i = 0; i < this.numLayers; i++) {
      all[`past_key_values.${i}.decoder.key`] = cache.decoder[2 * i]!;
      all[`past_key_values.${i}.decoder.value`] = cache.decoder[2 * i + 1]!;
      all[`past_key_values.${i}.encoder.key`] = cache.encoder[2 * i]!;
      all[`past_key_values.${i}.encoder.value`] = cache.encoder[2 * i + 1]!;
    }
    const out = await this.#cachedStep.run(this.#feed(this.#cachedStep, all));
    // The cross-attention cache never changes after the first step (and cached-step exports either
    // omit it or pass it through), so the one from the first step is kept.
    return { logits: out.logits!, cache: { decoder: this.#cacheFrom(out, false).decoder, encoder: cache.encoder } };
  }

  #cacheFrom(out: ort.InferenceSession.OnnxValueMapType, withEncoder: boolean): DecoderCache {
    const decoder: Tensor[] = [];
    const encoder: Tensor[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      for (const part of ['key', 'value']) {
        const d = out[`present.${i}.decoder.${part}`];
        if (!d) throw new CuratorError('inference_failed', `decoder returned no present.${i}.decoder.${part}`);
        decoder.push(d);
        if (withEncoder) {
          const e = out[`present.${i}.encoder.${part}`];
          if (e) encoder.push(e);
        }
      }
    }
    return { decoder, encoder };
  }

  async close(): Promise<void> {
    const sessions = new Set([this.#encoder, this.#firstStep, this.#cachedStep]);
    await Promise.all([...sessions].map((s) => s.release()));
  }
}
