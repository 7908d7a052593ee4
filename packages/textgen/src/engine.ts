// The text generation engine, hosted in a worker thread by @curator/inference's ModelThread.
// Calls queue in this thread; the micro-batcher groups those that arrive close together.
import { performance } from 'node:perf_hooks';
import { loadTokenizer, type TextTokenizer } from '@curator/tokenizers';
import { CuratorError } from '@curator/contracts';
import { deviceOfProviders, type Engine, type EngineCallContext, type EngineHost } from '@curator/inference';
import type * as ort from '@curator/inference/ort';
import { generateBatch, type GenerationRequest, type GenerationResult } from './generate.ts';
import { MicroBatcher } from './micro-batcher.ts';
import { defined, resolveOptions, stageDefaults, type BeamSearchVersion, type GenerateOptions, type Stage } from './options.ts';
import { Seq2SeqModel, type DecoderLayout, type Precision } from './seq2seq-model.ts';

export interface BatchingOptions {
  maxBatchSize: number;
  maxDelayMs: number;
}

export interface TextGenEngineOptions {
  modelDir: string;
  modelId?: string;
  precision?: Precision;
  decoder?: DecoderLayout;
  executionProviders?: ort.InferenceSession.SessionOptions['executionProviders'];
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** false: every call runs alone. Default { maxBatchSize: 8, maxDelayMs: 5 }. */
  batching?: BatchingOptions | false;
  /** The transformers beam search calls reproduce unless they say otherwise (default 'current'). */
  beamSearch?: BeamSearchVersion;
}

export interface TextGenInfo {
  modelId: string;
  precision: Precision;
  decoder: DecoderLayout;
  files: string[];
  /** Where the sessions run: `cpu` or `cuda:<id>`, from their execution providers. */
  device: string;
  loadMs: number;
  vocabSize: number;
  modelMaxLength: number | null;
  batching: BatchingOptions | false;
}

export interface GenerateTextArgs {
  text: string;
  stage?: Stage;
  options?: GenerateOptions;
}

export interface GenerateIdsArgs {
  inputIds: number[];
  stage?: Stage;
  options?: GenerateOptions;
}

export interface GenerationProgress {
  step: number;
  maxSteps: number;
}

export interface IdsResult {
  sequences: { tokens: number[]; score: number }[];
  tokens: number;
  steps: number;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  batchSize: number;
  /** Input positions the encoder ran over: the longest input of the batch, or the padded length. */
  encoderLength: number;
}

export interface TextResult extends Omit<IdsResult, 'sequences'> {
  text: string;
  sequences: { text: string; score: number; tokens: number[] }[];
  inputTokens: number;
  limit: number;
  truncated: boolean;
  originalTokens: number;
}

/** The stage's view of an article: its prefix, whitespace folded for headlines. */
export function stageText(text: string, stage?: Stage): string {
  if (!stage) return text;
  const defaults = stageDefaults[stage];
  const body = defaults.normalizeWhitespace ? text.replace(/\s+/g, ' ').trim() : text;
  return `${defaults.prefix}${body}`;
}

function idsResult(result: GenerationResult): IdsResult {
  const tokens = result.sequences[0]?.tokens.length ?? 0;
  return {
    sequences: result.sequences,
    tokens,
    steps: result.steps,
    timeToFirstTokenMs: result.timeToFirstTokenMs,
    tokensPerSecond: result.decodeMs > 0 ? (tokens * 1000) / result.decodeMs : 0,
    batchSize: result.batchSize,
    encoderLength: result.encoderLength,
  };
}

export async function createEngine(options: TextGenEngineOptions, host: EngineHost): Promise<Engine> {
  const started = performance.now();
  const [model, tokenizer] = await Promise.all([
    Seq2SeqModel.load(options),
    loadTokenizer(options.modelDir).catch((error: unknown) => {
      // Token-level generation still works without a tokenizer; text calls report it.
      host.log('warn', 'no tokenizer', { modelDir: options.modelDir, error: (error as Error).message });
      return undefined;
    }),
  ]);
  const batching = options.batching === undefined ? { maxBatchSize: 8, maxDelayMs: 5 } : options.batching;
  const run = (items: GenerationRequest[]) => generateBatch(model, items);
  const batcher = batching
    ? new MicroBatcher<GenerationRequest, GenerationResult>({
        ...batching,
        key: (r) => `${r.options.mode}:${r.options.useCache}`,
        run,
      })
    : undefined;
  const info: TextGenInfo = {
    modelId: options.modelId ?? options.modelDir,
    precision: model.precision,
    decoder: model.layout,
    files: model.files,
    device: deviceOfProviders(options.executionProviders),
    loadMs: performance.now() - started,
    vocabSize: model.vocabSize,
    modelMaxLength: tokenizer?.modelMaxLength ?? null,
    batching,
  };
  host.log('info', 'text generation engine loaded', { modelId: info.modelId, precision: info.precision, decoder: info.decoder, device: info.device, loadMs: Math.round(info.loadMs) });

  /** The input window: the call's, else the stage's, else the tokenizer's. */
  const inputLimit = (generateOptions: GenerateOptions, stage: Stage | undefined): number | undefined =>
    generateOptions.maxInputTokens ?? (stage ? stageDefaults[stage].maxInputTokens : undefined) ?? tokenizer?.modelMaxLength;

  const generateIds = async (inputIds: number[], generateOptions: GenerateOptions, stage: Stage | undefined, ctx: EngineCallContext | undefined): Promise<GenerationResult> => {
    if (inputIds.length === 0) throw new CuratorError('bad_input', 'nothing to generate from: the input has no tokens');
    const padding = generateOptions.padding ?? (stage ? stageDefaults[stage].padding : undefined) ?? 'longest';
    const request: GenerationRequest = {
      inputIds,
      padTo: padding === 'max_length' ? inputLimit(generateOptions, stage) : undefined,
      options: resolveOptions({ beamSearch: options.beamSearch, ...defined(generateOptions) }, model.generation, stage),
      arrivedAt: performance.now(),
      onStep: ctx ? (step, maxSteps) => ctx.progress({ step, maxSteps } satisfies GenerationProgress) : undefined,
      isCanceled: ctx ? () => ctx.isCanceled() : undefined,
    };
    if (batcher) return batcher.submit(request, { signal: ctx?.signal });
    const [result] = await run([request]);
    if (result instanceof Error) throw result;
    return result!;
  };

  const requireTokenizer = (): TextTokenizer => {
    if (!tokenizer) throw new CuratorError('model_missing', `${options.modelDir} has no tokenizer.json`);
    return tokenizer;
  };

  const generateText = async (args: GenerateTextArgs, ctx: EngineCallContext | undefined): Promise<TextResult> => {
    const tok = requireTokenizer();
    const generateOptions = args.options ?? {};
    const limit = inputLimit(generateOptions, args.stage) ?? tok.modelMaxLength;
    const encoding = tok.encode(stageText(args.text, args.stage), { maxLength: limit });
    const result = idsResult(await generateIds(encoding.inputIds, generateOptions, args.stage, ctx));
    const sequences = result.sequences.map((s) => ({ text: tok.decode(s.tokens, { skipSpecialTokens: true }).trim(), score: s.score, tokens: s.tokens }));
    return {
      ...result,
      text: sequences[0]?.text ?? '',
      sequences,
      inputTokens: encoding.inputIds.length,
      limit,
      truncated: encoding.truncated,
      originalTokens: encoding.originalLength,
    };
  };

  return {
    info,
    methods: {
      generate: (args: GenerateTextArgs, ctx) => generateText(args, ctx),
      generateIds: async (args: GenerateIdsArgs, ctx) => idsResult(await generateIds(args.inputIds, args.options ?? {}, args.stage, ctx)),
      async warmup() {
        const t = performance.now();
        await generateIds([...new Array<number>(8).fill(3), model.generation.eosTokenIds[0] ?? 1], { maxNewTokens: 2 }, undefined, undefined);
        return { warmupMs: performance.now() - t };
      },
    },
    close: () => model.close(),
  };
}
