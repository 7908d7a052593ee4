import { ModelThread } from '@curator/inference';
import type * as ort from '@curator/inference/ort';
import type { GenerationParams } from '@curator/contracts';
import type { BatchingOptions, GenerateIdsArgs, GenerateTextArgs, GenerationProgress, IdsResult, TextGenEngineOptions, TextGenInfo, TextResult } from './engine.ts';
import { optionsFromParams, type GenerateOptions, type Stage } from './options.ts';
import type { DecoderLayout, Precision } from './seq2seq-model.ts';

/** The engine's options, plus where the thread's log lines go. */
export interface TextGeneratorLoadOptions extends TextGenEngineOptions {
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface GenerateCallOptions {
  onProgress?: (progress: GenerationProgress) => void;
  signal?: AbortSignal;
}

/**
 * Main-thread facade: the model runs in a worker thread of its own (ModelThread), so the caller's
 * event loop stays free while tokens are generated.
 */
export class TextGenerator {
  readonly info: TextGenInfo;
  readonly #thread: ModelThread;

  private constructor(thread: ModelThread) {
    this.#thread = thread;
    this.info = thread.info as TextGenInfo;
  }

  static async load(options: TextGeneratorLoadOptions): Promise<TextGenerator> {
    const { onLog, ...engineOptions } = options;
    const thread = await ModelThread.start({
      module: new URL('./engine.ts', import.meta.url),
      options: engineOptions,
      name: `textgen:${options.modelId ?? options.modelDir}`,
      onLog,
    });
    return new TextGenerator(thread);
  }

  /** Generates from text: `stage` applies the summarize / headline input handling and defaults. */
  generate(text: string, options: GenerateOptions & { stage?: Stage } = {}, call: GenerateCallOptions = {}): Promise<TextResult> {
    const { stage, ...rest } = options;
    return this.#thread.call<TextResult, GenerationProgress>('generate', { text, stage, options: rest } satisfies GenerateTextArgs, call);
  }

  /** Generates from encoder token ids (special tokens included); no tokenizer involved. */
  generateIds(inputIds: number[], options: GenerateOptions & { stage?: Stage } = {}, call: GenerateCallOptions = {}): Promise<IdsResult> {
    const { stage, ...rest } = options;
    return this.#thread.call<IdsResult, GenerationProgress>('generateIds', { inputIds, stage, options: rest } satisfies GenerateIdsArgs, call);
  }

  /** T5 summary: "summarize: " + article, 512 input tokens, 4 beams, length penalty 2, max length 30. */
  summarize(article: string, params: GenerationParams = {}, call: GenerateCallOptions = {}): Promise<TextResult> {
    return this.generate(article, { ...optionsFromParams(params), stage: 'summarize' }, call);
  }

  /** Headline: whitespace-folded article, 384 input tokens, 4 beams, no repeated bigram, max length 84. */
  headline(article: string, params: GenerationParams = {}, call: GenerateCallOptions = {}): Promise<TextResult> {
    return this.generate(article, { ...optionsFromParams(params), stage: 'headline' }, call);
  }

  async warmup(): Promise<{ warmupMs: number }> {
    return this.#thread.call<{ warmupMs: number }>('warmup', {});
  }

  stats(): { calls: number; busyMs: number; inFlight: number } {
    return this.#thread.stats();
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}

export { optionsFromParams };
