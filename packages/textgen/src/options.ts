import { CuratorError, type GenerationParams } from '@curator/contracts';

/** Decoding options, named after Hugging Face `generate()` arguments (camelCase). */
export interface GenerateOptions {
  /** Most new tokens (takes precedence over maxLength, as in HF). */
  maxNewTokens?: number;
  /** Most decoder tokens counting the decoder start token (HF `max_length` for encoder-decoders). */
  maxLength?: number;
  minNewTokens?: number;
  /** Fewest decoder tokens counting the decoder start token (HF `min_length`). */
  minLength?: number;
  numBeams?: number;
  numReturnSequences?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  noRepeatNgramSize?: number;
  repetitionPenalty?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** false recomputes the whole decoder every step instead of using the KV cache (for tests and benchmarks). */
  useCache?: boolean;
  /** Input tokens kept (special tokens included); longer inputs are truncated. */
  maxInputTokens?: number;
}

export type Stage = 'summarize' | 'headline';

/** What the stages of the reference pipeline ask for (the tutorial's pipeline arguments). */
export const stageDefaults: Record<Stage, GenerateOptions & { prefix: string; normalizeWhitespace: boolean }> = {
  summarize: { prefix: 'summarize: ', normalizeWhitespace: false, maxInputTokens: 512, numBeams: 4, lengthPenalty: 2.0, earlyStopping: true, maxLength: 30 },
  headline: { prefix: '', normalizeWhitespace: true, maxInputTokens: 384, numBeams: 4, noRepeatNgramSize: 2, maxLength: 84 },
};

/** The model's generation_config.json (and config.json fallbacks), as read by the engine. */
export interface ModelGenerationConfig {
  decoderStartTokenId: number;
  eosTokenIds: number[];
  padTokenId: number;
  defaults: GenerateOptions;
}

export type DecodingMode = 'greedy' | 'beam' | 'sample';

/** Every knob decided: what the generation loop runs on. */
export interface ResolvedOptions {
  mode: DecodingMode;
  maxNewTokens: number;
  minNewTokens: number;
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  noRepeatNgramSize: number;
  repetitionPenalty: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  useCache: boolean;
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Maps the job contract's GenerationParams to generate() options. */
export function optionsFromParams(params: GenerationParams = {}): GenerateOptions {
  return defined({
    maxNewTokens: params.maxTokens,
    minNewTokens: params.minTokens,
    numBeams: params.numBeams,
    numReturnSequences: params.numReturnSequences,
    lengthPenalty: params.lengthPenalty,
    earlyStopping: params.earlyStopping,
    noRepeatNgramSize: params.noRepeatNgramSize,
    repetitionPenalty: params.repetitionPenalty,
    doSample: params.doSample,
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    seed: params.seed,
  });
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new CuratorError('bad_input', `${name} must be an integer >= ${min}`, { details: [{ path: name, message: `got ${value}` }] });
}

/**
 * Layers the options as HF does: the call's options over the stage's over generation_config.json
 * over HF's GenerationConfig defaults (max_length 20, top_k 50, ...).
 */
export function resolveOptions(options: GenerateOptions, model: ModelGenerationConfig, stage?: Stage): ResolvedOptions {
  const stageOptions: GenerateOptions = stage ? { ...stageDefaults[stage] } : {};
  const merged: GenerateOptions = { ...model.defaults, ...stageOptions, ...defined(options) };
  const doSample = merged.doSample ?? false;
  const numBeams = doSample ? 1 : (merged.numBeams ?? 1);
  // Within a layer max_new_tokens beats max_length, as in HF; a nearer layer beats a farther one.
  const layerMax = (o: GenerateOptions): number | undefined => o.maxNewTokens ?? (o.maxLength !== undefined ? o.maxLength - 1 : undefined);
  const maxNewTokens = layerMax(defined(options)) ?? layerMax(stageOptions) ?? layerMax(model.defaults) ?? 19;
  const minNewTokens = Math.max(merged.minNewTokens ?? 0, (merged.minLength ?? 0) - 1);
  const numReturnSequences = merged.numReturnSequences ?? 1;
  checkInt('maxNewTokens', maxNewTokens, 1);
  checkInt('numBeams', numBeams, 1);
  checkInt('numReturnSequences', numReturnSequences, 1);
  if (!doSample && numReturnSequences > numBeams) {
    throw new CuratorError('bad_input', 'numReturnSequences must not exceed numBeams', { details: [{ path: 'numReturnSequences', message: `${numReturnSequences} > ${numBeams}` }] });
  }
  const temperature = merged.temperature ?? 1;
  if (doSample && !(temperature > 0)) throw new CuratorError('bad_input', 'temperature must be > 0 when sampling', { details: [{ path: 'temperature', message: `got ${temperature}` }] });
  return {
    mode: doSample ? 'sample' : numBeams > 1 ? 'beam' : 'greedy',
    maxNewTokens,
    minNewTokens,
    numBeams,
    numReturnSequences,
    lengthPenalty: merged.lengthPenalty ?? 1,
    earlyStopping: merged.earlyStopping ?? false,
    noRepeatNgramSize: merged.noRepeatNgramSize ?? 0,
    repetitionPenalty: merged.repetitionPenalty ?? 1,
    temperature,
    topK: merged.topK ?? 50,
    topP: merged.topP ?? 1,
    seed: merged.seed ?? Math.floor(Math.random() * 2 ** 32),
    useCache: merged.useCache ?? true,
  };
}

/** Reads HF generation_config.json / config.json fields (snake_case) into ModelGenerationConfig. */
export function readGenerationConfig(config: Record<string, unknown>, generationConfig: Record<string, unknown>): ModelGenerationConfig {
  const pick = (key: string): unknown => generationConfig[key] ?? config[key];
  const num = (key: string): number | undefined => (typeof pick(key) === 'number' ? (pick(key) as number) : undefined);
  const eos = pick('eos_token_id');
  const eosTokenIds = Array.isArray(eos) ? eos.filter((v): v is number => typeof v === 'number') : typeof eos === 'number' ? [eos] : [1];
  const padTokenId = num('pad_token_id') ?? 0;
  // Only generation_config.json counts for decoding defaults: config.json's task_specific_params are per task.
  const g = (key: string): unknown => generationConfig[key];
  const gnum = (key: string): number | undefined => (typeof g(key) === 'number' ? (g(key) as number) : undefined);
  return {
    decoderStartTokenId: num('decoder_start_token_id') ?? padTokenId,
    eosTokenIds,
    padTokenId,
    defaults: defined({
      maxLength: gnum('max_length'),
      maxNewTokens: gnum('max_new_tokens'),
      minLength: gnum('min_length'),
      minNewTokens: gnum('min_new_tokens'),
      numBeams: gnum('num_beams'),
      numReturnSequences: gnum('num_return_sequences'),
      lengthPenalty: gnum('length_penalty'),
      earlyStopping: typeof g('early_stopping') === 'boolean' || g('early_stopping') === 'never' ? (g('early_stopping') as boolean | 'never') : undefined,
      noRepeatNgramSize: gnum('no_repeat_ngram_size'),
      repetitionPenalty: gnum('repetition_penalty'),
      doSample: typeof g('do_sample') === 'boolean' ? (g('do_sample') as boolean) : undefined,
      temperature: gnum('temperature'),
      topK: gnum('top_k'),
      topP: gnum('top_p'),
    }),
  };
}
