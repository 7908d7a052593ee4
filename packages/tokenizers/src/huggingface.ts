import { Tokenizer } from '@huggingface/tokenizers';
import { CuratorError } from '@curator/contracts';
import { tokenContent } from './converters.ts';
import { matchRustTokenizers } from './fidelity.ts';
import { assemble, encodeBatch, resolveMaxLength } from './sequence.ts';
import type { BatchEncoding, DecodeOptions, EncodeBatchOptions, EncodeOptions, Encoding, TextTokenizer, TokenizerSource } from './types.ts';

/** Used when neither tokenizer_config.json nor tokenizer.json states a limit: BERT's and T5's. */
export const DEFAULT_MODEL_MAX_LENGTH = 512;
// Hugging Face writes int(1e30) when a model has no limit of its own.
const UNLIMITED = 1e9;

export interface HuggingFaceTokenizerOptions {
  /** Overrides model_max_length from the tokenizer files. */
  modelMaxLength?: number;
  /** The files the tokenizer.json came from (default: a tokenizer.json file). */
  source?: TokenizerSource;
}

type JsonObject = Record<string, unknown>;

function asObject(value: unknown): JsonObject {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

/**
 * Whether decoding joins " ." into "." and the like: as tokenizer_config.json says, else as
 * transformers 4's tokenizer classes default (true only for BERT's family, the WordPiece ones).
 */
function cleansUpSpaces(json: JsonObject, config: JsonObject): boolean {
  if (typeof config.clean_up_tokenization_spaces === 'boolean') return config.clean_up_tokenization_spaces;
  return asObject(json.model).type === 'WordPiece';
}

/**
 * A tokenizer.json tokenizer (WordPiece, BPE, Unigram, ...) run by @huggingface/tokenizers,
 * with truncation that keeps the special tokens and right padding.
 */
export class HuggingFaceTokenizer implements TextTokenizer {
  readonly kind = 'huggingface' as const;
  readonly source: TokenizerSource;
  readonly padTokenId: number;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly modelMaxLength: number;

  readonly #tokenizer: Tokenizer;
  // The special tokens the post-processor puts around a single sequence, e.g. [CLS] and [SEP].
  readonly #prefix: number[];
  readonly #suffix: number[];

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, options: HuggingFaceTokenizerOptions = {}) {
    const json = asObject(tokenizerJson);
    const config = asObject(tokenizerConfig);
    this.source = options.source ?? 'tokenizer.json';
    try {
      this.#tokenizer = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: cleansUpSpaces(json, config) });
      matchRustTokenizers(this.#tokenizer);
    } catch (error) {
      if (error instanceof CuratorError) throw error;
      throw new CuratorError('model_load_failed', `${this.source} could not be read: ${(error as Error).message}`, { cause: error });
    }
    const addedTokens = this.#tokenizer.get_added_tokens_decoder();
    const idOf = (token: string | null): number | null => (token === null ? null : (this.#tokenizer.token_to_id(token) ?? null));
    // The first configured token that exists, else a conventional spelling among the added special tokens.
    const findSpecial = (configKeys: string[], conventional: string[]): number | null => {
      for (const key of configKeys) {
        const id = idOf(tokenContent(config[key]));
        if (id !== null) return id;
      }
      for (const added of addedTokens.values()) if (added.special && conventional.includes(added.content)) return added.id;
      return null;
    };
    const model = asObject(json.model);
    this.unkTokenId =
      findSpecial(['unk_token'], ['<unk>', '[UNK]']) ??
      idOf(tokenContent(model.unk_token)) ??
      (typeof model.unk_id === 'number' ? model.unk_id : null);
    this.eosTokenId = findSpecial(['eos_token'], ['</s>', '<|endoftext|>']);
    this.bosTokenId = findSpecial(['bos_token'], ['<s>', '<|startoftext|>']);
    const padding = asObject(json.padding);
    this.padTokenId =
      findSpecial(['pad_token'], ['<pad>', '[PAD]']) ?? (typeof padding.pad_id === 'number' ? padding.pad_id : null) ?? this.eosTokenId ?? 0;

    const configured = typeof config.model_max_length === 'number' && config.model_max_length < UNLIMITED ? config.model_max_length : undefined;
    const truncation = asObject(json.truncation);
    const fromTruncation = typeof truncation.max_length === 'number' ? truncation.max_length : undefined;
    this.modelMaxLength = options.modelMaxLength ?? configured ?? fromTruncation ?? DEFAULT_MODEL_MAX_LENGTH;

    [this.#prefix, this.#suffix] = this.#specialTokenFrame();
  }

  tokenize(text: string): string[] {
    return this.#tokenizer.tokenize(text, { add_special_tokens: false });
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const maxLength = resolveMaxLength(options.maxLength, this.modelMaxLength);
    const content = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    const withSpecials = options.addSpecialTokens ?? true;
    return assemble(withSpecials ? this.#prefix : [], content, withSpecials ? this.#suffix : [], maxLength);
  }

  encodeBatch(texts: string[], options?: EncodeBatchOptions): BatchEncoding {
    return encodeBatch(this, texts, options);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.#tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }

  /**
   * Learns which ids the post-processor wraps a single sequence in by encoding a probe with and
   * without special tokens, so that truncation can cut the text and keep those ids.
   */
  #specialTokenFrame(): [number[], number[]] {
    const probe = 'a b';
    const bare: number[] = this.#tokenizer.encode(probe, { add_special_tokens: false }).ids;
    const framed: number[] = this.#tokenizer.encode(probe, { add_special_tokens: true }).ids;
    for (let start = 0; start + bare.length <= framed.length; start++) {
      if (bare.every((id, i) => framed[start + i] === id)) {
        return [framed.slice(0, start), framed.slice(start + bare.length)];
      }
    }
    throw new CuratorError('model_load_failed', 'tokenizer.json: the post-processor does not keep the text as one contiguous run of tokens');
  }
}
