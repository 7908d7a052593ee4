import { CuratorError } from '@curator/contracts';
import { demojizeCodePoint, isSingleCodePoint } from './emoji-names.ts';
import { assemble, encodeBatch, resolveMaxLength } from './sequence.ts';
import { preprocessTweet } from './pysentimiento.ts';
import { PYTHON_WHITESPACE, tweetTokenize } from './tweet-tokenizer.ts';
import type { BatchEncoding, DecodeOptions, EncodeBatchOptions, EncodeOptions, Encoding, TextTokenizer } from './types.ts';

/** BERTweet's positional embeddings hold 130 rows, of which 128 are usable positions. */
export const BERTWEET_MAX_LENGTH = 128;

/**
 * What the text goes through before the tokenizer: 'pysentimiento', the preprocessing the
 * sentiment model's authors trained and serve it with (see pysentimiento.ts), or 'huggingface',
 * nothing, as transformers' pipeline("sentiment-analysis") does.
 */
export type BertweetPreprocessing = 'pysentimiento' | 'huggingface';

export interface BertweetOptions {
  /** transformers' BertweetTokenizer `normalization` (mentions, URLs, emoji, contractions). Default true. */
  normalization?: boolean;
  /** Default 'huggingface' here; loadTokenizer defaults to 'pysentimiento'. */
  preprocessing?: BertweetPreprocessing;
  modelMaxLength?: number;
}

const BOS = '<s>';
const PAD = '<pad>';
const EOS = '</s>';
const UNK = '<unk>';
const MASK = '<mask>';

const SPECIAL_PUNCTUATION: ReadonlyMap<string, string> = new Map([
  ['’', "'"],
  ['…', '...'],
]);

// Applied in this order to the space-joined tokens, exactly as the reference does.
const CONTRACTION_FIXES: ReadonlyArray<readonly [string, string]> = [
  ['cannot ', 'can not '],
  ["n't ", " n't "],
  ["n 't ", " n't "],
  ["ca n't", "can't"],
  ["ai n't", "ain't"],
  ["'m ", " 'm "],
  ["'re ", " 're "],
  ["'s ", " 's "],
  ["'ll ", " 'll "],
  ["'d ", " 'd "],
  ["'ve ", " 've "],
  [' p . m .', '  p.m.'],
  [' p . m ', ' p.m '],
  [' a . m .', ' a.m.'],
  [' a . m ', ' a.m '],
];

// `\S+\n?` of Python's `re`, whose \s also covers \x1c-\x1f.
const BPE_WORD = /[^\p{White_Space}\x1c-\x1f]+\n?/gu;

/** fairseq dictionary lines: "<token> <count>"; ids 0-3 are <s>, <pad>, </s>, <unk>. */
function parseVocab(vocabTxt: string): Map<string, number> {
  const encoder = new Map<string, number>([
    [BOS, 0],
    [PAD, 1],
    [EOS, 2],
    [UNK, 3],
  ]);
  const lines = vocabTxt.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    const separator = line.lastIndexOf(' ');
    if (separator === -1) {
      throw new CuratorError('model_load_failed', `vocab.txt line ${index + 1}: expected "<token> <count>", got ${JSON.stringify(rawLine)}`);
    }
    // A repeated token takes the next id without growing the map: the reference's dict does the same.
    encoder.set(line.slice(0, separator), encoder.size);
  });
  encoder.set(MASK, encoder.size);
  return encoder;
}

/** fastBPE codes: "<left> <right> <count>" per line, the line number is the merge's rank. */
function parseMerges(bpeCodes: string): Map<string, number> {
  // The reference drops the last element of split("\n"): the empty string after the final newline.
  const lines = bpeCodes.split('\n').slice(0, -1);
  const ranks = new Map<string, number>();
  lines.forEach((line, rank) => {
    const fields = line.trim().split(/\s+/u).slice(0, -1);
    // A later duplicate overrides the earlier rank, as dict(zip(merges, range(...))) does.
    if (fields.length === 2) ranks.set(pairKey(fields[0]!, fields[1]!), rank);
  });
  return ranks;
}

function pairKey(left: string, right: string): string {
  return `${left}\u0000${right}`;
}

export class BertweetTokenizer implements TextTokenizer {
  readonly kind = 'bertweet' as const;
  readonly source = 'vocab.txt+bpe.codes' as const;
  readonly padTokenId = 1;
  readonly bosTokenId = 0;
  readonly eosTokenId = 2;
  readonly unkTokenId = 3;
  readonly maskTokenId: number;
  readonly modelMaxLength: number;
  readonly normalization: boolean;
  readonly preprocessing: BertweetPreprocessing;
  readonly vocabSize: number;

  readonly #encoder: Map<string, number>;
  readonly #decoder: Map<number, string>;
  readonly #mergeRanks: Map<string, number>;
  readonly #bpeCache = new Map<string, string[]>();
  readonly #specialIds: ReadonlySet<number>;

  private constructor(encoder: Map<string, number>, mergeRanks: Map<string, number>, options: BertweetOptions) {
    this.#encoder = encoder;
    this.#decoder = new Map();
    for (const [token, id] of encoder) this.#decoder.set(id, token);
    this.#mergeRanks = mergeRanks;
    this.maskTokenId = encoder.get(MASK)!;
    this.vocabSize = encoder.size;
    this.normalization = options.normalization ?? true;
    this.preprocessing = options.preprocessing ?? 'huggingface';
    this.modelMaxLength = options.modelMaxLength ?? BERTWEET_MAX_LENGTH;
    this.#specialIds = new Set([this.bosTokenId, this.padTokenId, this.eosTokenId, this.unkTokenId, this.maskTokenId]);
  }

  /** Builds the tokenizer from the contents of vocab.txt and bpe.codes. */
  static fromFiles(vocabTxt: string, bpeCodes: string, options: BertweetOptions = {}): BertweetTokenizer {
    return new BertweetTokenizer(parseVocab(vocabTxt), parseMerges(bpeCodes), options);
  }

  /**
   * BERTweet's tweet normalization: NLTK tweet tokens, mentions -> @USER, links -> HTTPURL,
   * emoji -> :emoji_name:, contractions split the way BERTweet was trained ("do n't", "it 's").
   */
  normalizeTweet(tweet: string): string {
    let text = tweet;
    for (const [punctuation, replacement] of SPECIAL_PUNCTUATION) text = text.replaceAll(punctuation, replacement);
    let normalized = tweetTokenize(text)
      .map((token) => this.#normalizeToken(token))
      .join(' ');
    for (const [from, to] of CONTRACTION_FIXES) normalized = normalized.replaceAll(from, to);
    return normalized
      .split(PYTHON_WHITESPACE)
      .filter((token) => token !== '')
      .join(' ');
  }

  /** The text the tokenizer's own normalization and BPE see: pysentimiento's rewrite, or the text itself. */
  preprocess(text: string): string {
    return this.preprocessing === 'pysentimiento' ? preprocessTweet(text) : text;
  }

  tokenize(text: string): string[] {
    const prepared = this.preprocess(text);
    const normalized = this.normalization ? this.normalizeTweet(prepared) : prepared;
    return Array.from(normalized.matchAll(BPE_WORD), (match) => this.#bpe(match[0])).flat();
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const maxLength = resolveMaxLength(options.maxLength, this.modelMaxLength);
    const content = this.tokenize(text).map((token) => this.#encoder.get(token) ?? this.unkTokenId);
    const withSpecials = options.addSpecialTokens ?? true;
    return assemble(withSpecials ? [this.bosTokenId] : [], content, withSpecials ? [this.eosTokenId] : [], maxLength);
  }

  encodeBatch(texts: string[], options?: EncodeBatchOptions): BatchEncoding {
    return encodeBatch(this, texts, options);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const tokens = ids
      .filter((id) => !(options.skipSpecialTokens && this.#specialIds.has(id)))
      .map((id) => this.#decoder.get(id) ?? UNK);
    return tokens.join(' ').replaceAll('@@ ', '').trim();
  }

  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#encoder.get(token);
  }

  #normalizeToken(token: string): string {
    if (token.startsWith('@')) return '@USER';
    const lowercased = token.toLowerCase();
    if (lowercased.startsWith('http') || lowercased.startsWith('www')) return 'HTTPURL';
    if (isSingleCodePoint(token)) return SPECIAL_PUNCTUATION.get(token) ?? demojizeCodePoint(token);
    return token;
  }

  /** fastBPE on one whitespace-free word: merges by rank, "@@" marks a piece that continues. */
  #bpe(word: string): string[] {
    const cached = this.#bpeCache.get(word);
    if (cached) return cached;
    let symbols = Array.from(word);
    // A single character has no pair to merge and gets no end-of-word marker.
    if (symbols.length < 2) return [word];
    symbols[symbols.length - 1] += '</w>';
    while (symbols.length > 1) {
      let best: { left: string; right: string; rank: number } | undefined;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.#mergeRanks.get(pairKey(symbols[i]!, symbols[i + 1]!));
        if (rank !== undefined && (best === undefined || rank < best.rank)) best = { left: symbols[i]!, right: symbols[i + 1]!, rank };
      }
      if (!best) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === best.left && symbols[i + 1] === best.right && i + 1 < symbols.length) {
          merged.push(best.left + best.right);
          i++;
        } else {
          merged.push(symbols[i]!);
        }
      }
      symbols = merged;
    }
    const pieces = symbols.join('@@ ').slice(0, -'</w>'.length).split(' ');
    if (this.#bpeCache.size > 50_000) this.#bpeCache.clear();
    this.#bpeCache.set(word, pieces);
    return pieces;
  }
}
