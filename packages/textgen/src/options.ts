import { CuratorError, type GenerationParams } from '@curator/contracts';

/**
 * Which transformers beam search to reproduce. `current`: transformers >= 4.49 (4.57 and 5.x alike:
 * the vectorized `_beam_search`), which stops when the best beam still running cannot beat the
 * worst finished hypothesis, and at the length limit finishes the top num_beams candidates.
 * `legacy`: transformers <= 4.48 (`BeamSearchScorer`), which compares the best of all candidates,
 * finished ones included, and at the length limit finishes the beams still running.
 */
export type BeamSearchVersion = 'current' | 'legacy';
export const beamSearchVersions: readonly BeamSearchVersion[] = ['current', 'legacy'];

/** Decoding options, named after Hugging Face `generate()` arguments (camelCase). */
export interface GenerateOptions {
  /** Most new tokens (beats maxLength from any layer, as in transformers; see resolveOptions). */
  maxNewTokens?: number;
  /** Most decoder tokens counting the decoder start token (HF `max_length` for encoder-decoders). */
  maxLength?: number;
  /** Fewest new tokens (beats minLength from any layer). */
  minNewTokens?: number;
  /** Fewest decoder tokens counting the decoder start token (HF `min_length`). */
  minLength?: number;
  /** Default 'current'. */
  beamSearch?: BeamSearchVersion;
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
  /**
   * 'max_length' pads the encoder input to maxInputTokens with the attention mask masking the
   * padding, as a tokenizer called with padding="max_length" does; 'longest' (the default) pads
   * only to the longest input of a batch. The mask makes both give the same tokens.
   */
  padding?: 'longest' | 'max_length';
}

export type Stage = 'summarize' | 'headline';

/** What the stages of the reference pipeline ask for (the tutorial's pipeline arguments). */
export const stageDefaults: Record<Stage, GenerateOptions & { prefix: string; normalizeWhitespace: boolean }> = {
  summarize: { prefix: 'summarize: ', normalizeWhitespace: false, maxInputTokens: 512, numBeams: 4, lengthPenalty: 2.0, earlyStopping: true, maxLength: 30 },
  headline: { prefix: '', normalizeWhitespace: true, maxInputTokens: 384, padding: 'max_length', numBeams: 4, noRepeatNgramSize: 2, maxLength: 84 },
};

/** The stage's generate() options, without its input handling (prefix, whitespace, input window). */
function generateOptionsOf(stage: (typeof stageDefaults)[Stage]): GenerateOptions {
  const { prefix: _prefix, normalizeWhitespace: _normalize, ...options } = stage;
  return options;
}

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
  beamSearch: BeamSearchVersion;
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

/** The keys that hold a value: an undefined key must not hide a default below it. */
export const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

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

/** transformers' default when nothing sets a length: 20 new tokens (max_length 20 + the decoder start token). */
const defaultMaxNewTokens = 20;

/**
 * Layers the options as transformers does: key by key, the call's options over the stage's (the
 * reference pipeline's call arguments) over generation_config.json over GenerationConfig's
 * defaults. Then, as `_prepare_generated_length` does (transformers 4.57 and 5.18 alike), the
 * merged max_new_tokens beats the merged max_length, whichever layer each came from: a call's
 * maxNewTokens > generation_config's max_new_tokens > a call's (or stage's) maxLength >
 * generation_config's max_length > 20 new tokens. max_length counts the decoder start token.
 * min_new_tokens and min_length likewise.
 */
export function resolveOptions(options: GenerateOptions, model: ModelGenerationConfig, stage?: Stage): ResolvedOptions {
  const stageOptions: GenerateOptions = stage ? generateOptionsOf(stageDefaults[stage]) : {};
  const merged: GenerateOptions = { ...model.defaults, ...stageOptions, ...defined(options) };
  const doSample = merged.doSample ?? false;
  const numBeams = doSample ? 1 : (merged.numBeams ?? 1);
  if (merged.maxLength !== undefined && merged.maxNewTokens === undefined) checkInt('maxLength', merged.maxLength, 2);
  const maxNewTokens = merged.maxNewTokens ?? (merged.maxLength !== undefined ? merged.maxLength - 1 : defaultMaxNewTokens);
  const minNewTokens = merged.minNewTokens ?? Math.max(0, (merged.minLength ?? 0) - 1);
  const numReturnSequences = merged.numReturnSequences ?? 1;
  const beamSearch = merged.beamSearch ?? 'current';
  if (!beamSearchVersions.includes(beamSearch)) {
    throw new CuratorError('bad_input', `beamSearch must be one of ${beamSearchVersions.join(', ')}`, { details: [{ path: 'beamSearch', message: `got ${String(beamSearch)}` }] });
  }
  checkInt('maxNewTokens', maxNewTokens, 1);
  checkInt('minNewTokens', minNewTokens, 0);
  checkInt('numBeams', numBeams, 1);
  checkInt('numReturnSequences', numReturnSequences, 1);
  if (!doSample && numReturnSequences > numBeams) {
    throw new CuratorError('bad_input', 'numReturnSequences must not exceed numBeams', { details: [{ path: 'numReturnSequences', message: `${numReturnSequences} > ${numBeams}` }] });
  }
  const temperature = merged.temperature ?? 1;
  if (doSample && !(temperature > 0)) throw new CuratorError('bad_input', 'temperature must be > 0 when sampling', { details: [{ path: 'temperature', message: `got ${temperature}` }] });
  return {
    mode: doSample ? 'sample' : numBeams > 1 ? 'beam' : 'greedy',
    beamSearch,
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
