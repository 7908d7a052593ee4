// Small but real tokenizer files for the test set, in the files the real repositories publish:
// BERTweet's vocab.txt + bpe.codes (fairseq dictionary + fastBPE merges) with "normalization":
// false as finiteautomata/bertweet-base-sentiment-analysis has, and BERT's vocab.txt +
// tokenizer.json as an AutoNLP repository holds them. Every printable ASCII character
// is in both vocabularies, so any English text encodes with few unknown tokens; a few hundred
// common words and pieces make the encodings look like real ones.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bertTokenizerJson } from '@curator/tokenizers';

const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const PUNCTUATION = `.,;:!?'"()[]{}<>-_/\\|@#$%^&*+=~\``;

/** Frequent English words, news words among them, shared by both vocabularies. */
export const COMMON_WORDS: readonly string[] = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'were her she there been one all we their has would more if will when who what its new said about up out year years ' +
  'people government president minister company market price report police court city state world first last after over ' +
  'two three million percent news week day time may can also could than into some other most team game win good bad ' +
  'great love happy sad today just like get make know think see go do no yes very much our your my me us them'
).split(' ');

const COMMON_SUFFIXES = ['ing', 'ed', 'er', 'es', 'ly', 'tion', 'ment', 'ness', 'est', 'ers', 's'];
const COMMON_PREFIXES = ['th', 'in', 're', 'an', 'on', 'st', 'con', 'pro', 'un'];

/**
 * The words the sentiment model's input is made of after pysentimiento's preprocessing (mentions,
 * links, hashtags, emoji names) or BERTweet's own normalization (emoji as ":name:", contractions).
 */
const BERTWEET_SPECIAL_WORDS = [
  'emoji',
  'hashtag',
  'face',
  'tears',
  'joy',
  'red',
  'heart',
  'thumbs',
  'fire',
  'smiling',
  'heart-eyes',
  'crying',
  'grinning',
  '@USER',
  'HTTPURL',
  ':face_with_tears_of_joy:',
  ':red_heart:',
  ':grinning_face:',
  ':thumbs_up:',
  ':crying_face:',
  ':fire:',
  ':smiling_face_with_heart-eyes:',
  "n't",
  "'s",
  "'m",
  "'re",
  "'ll",
  "'ve",
  "'d",
];

export interface BertweetTokenizerFilesOptions {
  /** More whole words to give their own token. */
  extraWords?: readonly string[];
  /** model_max_length in tokenizer_config.json (default 128, BERTweet's). */
  modelMaxLength?: number;
}

export interface WrittenTokenizer {
  /** Ids the model's embedding table needs, special tokens included. */
  vocabSize: number;
}

/** A tokenizer's files by name, and the vocabulary size its model needs. */
export interface TokenizerFiles extends WrittenTokenizer {
  files: Record<string, string | Uint8Array>;
}

async function writeTokenizerFiles(dir: string, tokenizer: TokenizerFiles): Promise<WrittenTokenizer> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(tokenizer.files)) await writeFile(join(dir, name), content);
  return { vocabSize: tokenizer.vocabSize };
}

/**
 * Learns fastBPE merges the way BPE training does (most frequent adjacent pair first) until every
 * word is a single symbol. Encoding applies merges in the order they were learnt, so each of
 * these words later encodes to exactly one token. `</w>` ends a word as in BERTweet's bpe.codes;
 * entries marked as prefixes get none, so they become continuing pieces ("con@@").
 */
function learnMerges(entries: readonly { text: string; prefix: boolean }[]): [string, string][] {
  const words = new Map<string, string[]>();
  for (const { text, prefix } of entries) {
    const symbols = Array.from(text);
    if (!prefix) symbols[symbols.length - 1] += '</w>';
    words.set(`${prefix ? 'prefix' : 'word'}:${text}`, symbols);
  }
  const merges: [string, string][] = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const symbols of words.values()) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    for (const [key, count] of counts) if (best === undefined || count > counts.get(best)!) best = key;
    if (best === undefined) return merges;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const [key, symbols] of words) {
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else {
          merged.push(symbols[i]!);
        }
      }
      words.set(key, merged);
    }
  }
}

/**
 * Writes vocab.txt, bpe.codes, tokenizer_config.json and special_tokens_map.json for a
 * BERTweet-style tokenizer. The vocabulary holds every symbol the merges can produce, in both
 * its word-final ("the") and continuing ("th@@") form, so encoding never meets a piece it lacks.
 */
export function bertweetTokenizerFiles(options: BertweetTokenizerFilesOptions = {}): TokenizerFiles {
  const characters = Array.from(new Set(`${LOWERCASE}${LOWERCASE.toUpperCase()}${DIGITS}${PUNCTUATION}`));
  const words = [...BERTWEET_SPECIAL_WORDS, ...COMMON_WORDS, ...(options.extraWords ?? [])];
  // Prefixes continue a word, suffixes end one: "con" + "tion" -> con@@ tion.
  const merges = learnMerges([
    ...COMMON_PREFIXES.map((text) => ({ text, prefix: true })),
    ...[...COMMON_SUFFIXES, ...words].filter((text) => Array.from(text).length > 1).map((text) => ({ text, prefix: false })),
  ]);

  const tokens = new Set<string>();
  for (const character of characters) {
    tokens.add(character);
    tokens.add(`${character}@@`);
  }
  for (const [left, right] of merges) {
    const symbol = left + right;
    tokens.add(symbol.endsWith('</w>') ? symbol.slice(0, -'</w>'.length) : `${symbol}@@`);
  }
  // The fairseq dictionary adds <s>, <pad>, </s>, <unk> before the file's tokens and <mask> after.
  for (const special of ['<s>', '<pad>', '</s>', '<unk>', '<mask>']) tokens.delete(special);

  // Counts only order the file the way fairseq writes it; the tokenizer ignores them.
  const vocabLines = Array.from(tokens, (token, index) => `${token} ${100_000 - index}`);
  const codeLines = merges.map(([left, right], rank) => `${left} ${right} ${50_000 - rank}`);
  const specialTokens = {
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    sep_token: '</s>',
    pad_token: '<pad>',
    cls_token: '<s>',
    mask_token: '<mask>',
  };
  // The keys of finiteautomata/bertweet-base-sentiment-analysis's tokenizer_config.json.
  const tokenizerConfig = {
    ...specialTokens,
    model_max_length: options.modelMaxLength ?? 128,
    name_or_path: 'vinai/bertweet-base',
    normalization: false,
    special_tokens_map_file: null,
    tokenizer_class: 'BertweetTokenizer',
  };
  return {
    vocabSize: 4 + tokens.size + 1,
    files: {
      'vocab.txt': `${vocabLines.join('\n')}\n`,
      'bpe.codes': `${codeLines.join('\n')}\n`,
      'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
      'special_tokens_map.json': `${JSON.stringify(specialTokens, null, 2)}\n`,
    },
  };
}

/** Writes every file of {@link bertweetTokenizerFiles} into `dir`. */
export async function writeBertweetTokenizerFiles(dir: string, options: BertweetTokenizerFilesOptions = {}): Promise<WrittenTokenizer> {
  return writeTokenizerFiles(dir, bertweetTokenizerFiles(options));
}


export interface BertWordPieceTokenizerOptions {
  /** More whole words to give their own token. */
  extraWords?: readonly string[];
  /** model_max_length in tokenizer_config.json (default 512, BERT's). */
  modelMaxLength?: number;
}

const BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * Writes a BERT uncased WordPiece vocab.txt, the tokenizer.json transformers' BertTokenizerFast
 * saves for it, tokenizer_config.json and special_tokens_map.json: [PAD]=0, [UNK]=1, [CLS]=2,
 * [SEP]=3, [MASK]=4, then characters, "##" continuations, pieces and common words.
 */
export function bertWordPieceTokenizerFiles(options: BertWordPieceTokenizerOptions = {}): TokenizerFiles {
  const tokens: string[] = [];
  const seen = new Set<string>();
  const add = (token: string): void => {
    if (!seen.has(token)) {
      seen.add(token);
      tokens.push(token);
    }
  };
  for (const special of BERT_SPECIAL_TOKENS) add(special);
  for (const character of `${LOWERCASE}${DIGITS}${PUNCTUATION}`) add(character);
  for (const character of `${LOWERCASE}${DIGITS}`) add(`##${character}`);
  for (const suffix of COMMON_SUFFIXES) add(`##${suffix}`);
  for (const prefix of COMMON_PREFIXES) add(prefix);
  for (const word of [...COMMON_WORDS, ...(options.extraWords ?? [])]) add(word.toLowerCase());

  const specialTokens = { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' };
  const tokenizerConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    clean_up_tokenization_spaces: true,
    model_max_length: options.modelMaxLength ?? 512,
    ...specialTokens,
  };
  const vocabTxt = `${tokens.join('\n')}\n`;
  return {
    vocabSize: tokens.length,
    files: {
      'vocab.txt': vocabTxt,
      'tokenizer.json': `${JSON.stringify(bertTokenizerJson(vocabTxt, tokenizerConfig))}\n`,
      'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
      'special_tokens_map.json': JSON.stringify(specialTokens),
    },
  };
}

/** Writes every file of {@link bertWordPieceTokenizerFiles} into `dir`. */
export async function writeBertWordPieceTokenizer(dir: string, options: BertWordPieceTokenizerOptions = {}): Promise<WrittenTokenizer> {
  return writeTokenizerFiles(dir, bertWordPieceTokenizerFiles(options));
}

