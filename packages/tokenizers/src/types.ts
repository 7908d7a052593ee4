export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
  /** Whether tokens were cut to fit `maxLength`. */
  truncated: boolean;
  /** Tokens before truncation, special tokens included. */
  originalLength: number;
}

export interface EncodeOptions {
  /** Longest sequence returned, special tokens included (default: the tokenizer's modelMaxLength). */
  maxLength?: number;
  /** Wrap the tokens in the model's special tokens (default true). */
  addSpecialTokens?: boolean;
}

export interface EncodeBatchOptions {
  maxLength?: number;
  /** 'longest' (default) pads to the longest sequence of the batch; a number pads (and truncates) every row to it. */
  padTo?: 'longest' | number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  truncated: boolean[];
  originalLengths: number[];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/** The files a tokenizer was built from, in the order loadTokenizer looks for them. */
export type TokenizerSource = 'tokenizer.json' | 'spiece.model' | 'vocab.json+merges.txt' | 'vocab.txt+bpe.codes' | 'vocab.txt';

export interface TextTokenizer {
  readonly kind: 'bertweet' | 'huggingface';
  readonly source: TokenizerSource;
  readonly padTokenId: number;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly modelMaxLength: number;
  /** Synchronous: it runs inside inference worker threads. Truncates to maxLength (default modelMaxLength). */
  encode(text: string, options?: EncodeOptions): Encoding;
  encodeBatch(texts: string[], options?: EncodeBatchOptions): BatchEncoding;
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The model's tokens for `text`, without special tokens. */
  tokenize(text: string): string[];
}
