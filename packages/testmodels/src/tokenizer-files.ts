// Small but real tokenizer files for generated test models: a BERTweet vocab.txt + bpe.codes pair
// (fairseq dictionary + fastBPE merges) and a BERT uncased WordPiece tokenizer.json. Every
// printable ASCII character is in both vocabularies, so any English text encodes with few
// unknown tokens; a few hundred common words and pieces make the encodings look like real ones.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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

/** BERTweet's normalization turns mentions, links and emoji into these words. */
const BERTWEET_SPECIAL_WORDS = [
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
export async function writeBertweetTokenizerFiles(dir: string, options: BertweetTokenizerFilesOptions = {}): Promise<WrittenTokenizer> {
  await mkdir(dir, { recursive: true });
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
  await Promise.all([
    writeFile(join(dir, 'vocab.txt'), `${vocabLines.join('\n')}\n`),
    writeFile(join(dir, 'bpe.codes'), `${codeLines.join('\n')}\n`),
    writeFile(
      join(dir, 'tokenizer_config.json'),
      `${JSON.stringify({ tokenizer_class: 'BertweetTokenizer', normalization: true, model_max_length: options.modelMaxLength ?? 128, ...specialTokens }, null, 2)}\n`,
    ),
    writeFile(join(dir, 'special_tokens_map.json'), `${JSON.stringify(specialTokens, null, 2)}\n`),
  ]);
  return { vocabSize: 4 + tokens.size + 1 };
}

export interface BertWordPieceTokenizerOptions {
  /** More whole words to give their own token. */
  extraWords?: readonly string[];
  /** model_max_length in tokenizer_config.json (default 512, BERT's). */
  modelMaxLength?: number;
}

const BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * Writes a BERT uncased WordPiece tokenizer.json and tokenizer_config.json: [PAD]=0, [UNK]=1,
 * [CLS]=2, [SEP]=3, [MASK]=4, then characters, "##" continuations, pieces and common words.
 */
export async function writeBertWordPieceTokenizer(dir: string, options: BertWordPieceTokenizerOptions = {}): Promise<WrittenTokenizer> {
  await mkdir(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  let size = 0;
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = size++;
  };
  for (const special of BERT_SPECIAL_TOKENS) add(special);
  for (const character of `${LOWERCASE}${DIGITS}${PUNCTUATION}`) add(character);
  for (const character of `${LOWERCASE}${DIGITS}`) add(`##${character}`);
  for (const suffix of COMMON_SUFFIXES) add(`##${suffix}`);
  for (const prefix of COMMON_PREFIXES) add(prefix);
  for (const word of [...COMMON_WORDS, ...(options.extraWords ?? [])]) add(word.toLowerCase());

  const addedToken = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const special = (content: string, typeId = 0) => ({ SpecialToken: { id: content, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIAL_TOKENS.map(addedToken),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), sequence('A', 0), special('[SEP]')],
      pair: [special('[CLS]'), sequence('A', 0), special('[SEP]'), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const tokenizerConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    clean_up_tokenization_spaces: true,
    model_max_length: options.modelMaxLength ?? 512,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  };
  await Promise.all([
    writeFile(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson)}\n`),
    writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`),
  ]);
  return { vocabSize: size };
}
