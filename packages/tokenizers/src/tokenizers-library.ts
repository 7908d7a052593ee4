import * as library from '@huggingface/tokenizers';

/*
 * Types for the parts of @huggingface/tokenizers that fidelity.ts swaps. The package's own .d.ts
 * files import each other without file extensions, which TypeScript's NodeNext resolution cannot
 * follow, so everything but `Tokenizer` is missing from its types here.
 */

export interface NormalizerInstance {
  config: Record<string, unknown>;
  normalize(text: string): string;
}

export interface PreTokenizerInstance {
  pre_tokenize_text(text: string, options?: unknown): string[];
}

export interface ByteLevelPreTokenizerInstance extends PreTokenizerInstance {
  pattern: RegExp;
}

export interface SequenceNormalizerInstance extends NormalizerInstance {
  normalizers: (NormalizerInstance | null)[];
}

export interface SequencePreTokenizerInstance extends PreTokenizerInstance {
  tokenizers: (PreTokenizerInstance | null)[];
}

/** The loaded pipeline of a `Tokenizer`: public, replaceable fields. */
export interface TokenizerPipeline {
  normalizer: NormalizerInstance | null;
  pre_tokenizer: PreTokenizerInstance | null;
}

type Constructor<T> = abstract new (config?: Record<string, unknown>) => T;

const components = library as unknown as {
  Normalizer: Constructor<NormalizerInstance>;
  PreTokenizer: Constructor<PreTokenizerInstance>;
  BertNormalizer: Constructor<NormalizerInstance>;
  LowercaseNormalizer: Constructor<NormalizerInstance>;
  PrecompiledNormalizer: Constructor<NormalizerInstance>;
  SequenceNormalizer: Constructor<SequenceNormalizerInstance>;
  SequencePreTokenizer: Constructor<SequencePreTokenizerInstance>;
  WhitespaceSplitPreTokenizer: Constructor<PreTokenizerInstance>;
  ByteLevelPreTokenizer: Constructor<ByteLevelPreTokenizerInstance>;
};

export const {
  Normalizer,
  PreTokenizer,
  BertNormalizer,
  LowercaseNormalizer,
  PrecompiledNormalizer,
  SequenceNormalizer,
  SequencePreTokenizer,
  WhitespaceSplitPreTokenizer,
  ByteLevelPreTokenizer,
} = components;
