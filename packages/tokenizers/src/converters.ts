import { CuratorError } from '@curator/contracts';
import type { SentencePieceModel } from './sentencepiece-model.ts';

/*
 * The tokenizer.json a model folder would have, built in memory from the vocabulary files it does
 * publish, the way transformers' convert_slow_tokenizer.py (CLIPConverter, T5Converter,
 * BertConverter) and its fast tokenizer classes build them. The result runs on the same code as a
 * published tokenizer.json (see huggingface.ts).
 */

export type JsonObject = Record<string, unknown>;

/** A special token in tokenizer_config.json / special_tokens_map.json: a string or an AddedToken object. */
export function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as JsonObject).content === 'string') return (value as JsonObject).content as string;
  return null;
}

function configuredToken(config: JsonObject, key: string, fallback: string): string {
  return tokenContent(config[key]) ?? fallback;
}

function addedToken(id: number, content: string, options: { special?: boolean; normalized?: boolean } = {}): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: options.normalized ?? false, special: options.special ?? true };
}

function byId(tokens: JsonObject[]): JsonObject[] {
  const seen = new Set<number>();
  return tokens.filter((token) => !seen.has(token.id as number) && seen.add(token.id as number)).sort((a, b) => (a.id as number) - (b.id as number));
}

function idIn(vocab: ReadonlyMap<string, number> | Record<string, number>, token: string, file: string): number {
  const id = vocab instanceof Map ? vocab.get(token) : Object.hasOwn(vocab, token) ? (vocab as Record<string, number>)[token] : undefined;
  if (id === undefined) throw new CuratorError('model_load_failed', `${file} has no ${token} token`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// CLIP: byte-level BPE with "</w>" word ends (vocab.json + merges.txt).

/** CLIP's word pattern (the slow tokenizer's, without its special-token alternatives). */
const CLIP_WORDS = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
/** transformers reads at most this many merges: CLIP's 49,152 ids less 256 bytes and 2 specials. */
const CLIP_MAX_MERGES = 49152 - 256 - 2;
// Python's str.strip() / str.split() whitespace.
const PYTHON_SPACE = /[\p{White_Space}\x1c-\x1f]+/u;
const PYTHON_SPACE_EDGES = /^[\p{White_Space}\x1c-\x1f]+|[\p{White_Space}\x1c-\x1f]+$/gu;

/** merges.txt: a "#version" line, then one "left right" merge per line in rank order. */
export function parseMerges(mergesTxt: string, file = 'merges.txt', limit = Number.POSITIVE_INFINITY): string[] {
  const lines = mergesTxt.replace(PYTHON_SPACE_EDGES, '').split('\n');
  if (lines[0]?.startsWith('#version')) lines.shift();
  return lines.slice(0, limit).map((line, index) => {
    const parts = line.split(PYTHON_SPACE).filter((part) => part !== '');
    if (parts.length !== 2) throw new CuratorError('model_load_failed', `${file} line ${index + 2}: expected "<left> <right>", got ${JSON.stringify(line)}`);
    return `${parts[0]} ${parts[1]}`;
  });
}

function parseVocabJson(vocabJson: string, file: string): Record<string, number> {
  let vocab: unknown;
  try {
    vocab = JSON.parse(vocabJson);
  } catch (error) {
    throw new CuratorError('model_load_failed', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab) || !Object.values(vocab).every((id) => Number.isInteger(id) && (id as number) >= 0)) {
    throw new CuratorError('model_load_failed', `${file} must map tokens to non-negative integer ids`);
  }
  return vocab as Record<string, number>;
}

/** CLIPTokenizer's files (Stable Diffusion's tokenizer/ folder) as a tokenizer.json. */
export function clipTokenizerJson(vocabJson: string, mergesTxt: string, config: JsonObject = {}): JsonObject {
  const vocab = parseVocabJson(vocabJson, 'vocab.json');
  const merges = parseMerges(mergesTxt, 'merges.txt', CLIP_MAX_MERGES);
  const bos = configuredToken(config, 'bos_token', '<|startoftext|>');
  const eos = configuredToken(config, 'eos_token', '<|endoftext|>');
  const unk = configuredToken(config, 'unk_token', '<|endoftext|>');
  const pad = configuredToken(config, 'pad_token', '<|endoftext|>');
  const bosId = idIn(vocab, bos, 'vocab.json');
  const eosId = idIn(vocab, eos, 'vocab.json');
  // CLIPTokenizerFast marks its special tokens "normalized": the lowercasing normalizer runs first.
  const special = [bos, eos, unk, pad].filter((token) => Object.hasOwn(vocab, token)).map((token) => addedToken(vocab[token]!, token, { normalized: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: byId(special),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_WORDS }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [eos, eosId], cls: [bos, bosId], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// T5: a SentencePiece Unigram model (spiece.model).

function extraIdCount(config: JsonObject): number {
  if (typeof config.extra_ids === 'number') return config.extra_ids;
  const listed = Array.isArray(config.additional_special_tokens)
    ? config.additional_special_tokens.map(tokenContent).filter((token) => token !== null && /^<extra_id_\d+>$/.test(token)).length
    : 0;
  // T5Tokenizer's default: 100 sentinels, <extra_id_0> .. <extra_id_99>.
  return listed > 0 ? listed : 100;
}

/** T5Tokenizer's files (spiece.model + tokenizer_config.json) as a tokenizer.json. */
export function t5TokenizerJson(model: SentencePieceModel, config: JsonObject = {}): JsonObject {
  if (model.trainerSpec.modelType !== 'unigram') {
    throw new CuratorError('model_load_failed', `spiece.model is a ${model.trainerSpec.modelType} model; only Unigram models (T5's) are supported`);
  }
  const extraIds = extraIdCount(config);
  // The sentinels follow the pieces, <extra_id_0> last: T5's vocabulary layout.
  const sentinels = Array.from({ length: extraIds }, (_, i) => `<extra_id_${extraIds - 1 - i}>`);
  const vocab: [string, number][] = [...model.pieces.map((piece): [string, number] => [piece.piece, piece.score]), ...sentinels.map((token): [string, number] => [token, 0])];
  const ids = new Map<string, number>();
  vocab.forEach(([token], id) => {
    if (!ids.has(token)) ids.set(token, id);
  });
  const eos = configuredToken(config, 'eos_token', '</s>');
  const special = [configuredToken(config, 'pad_token', '<pad>'), eos, configuredToken(config, 'unk_token', '<unk>'), ...sentinels]
    .filter((token) => ids.has(token))
    .map((token) => addedToken(ids.get(token)!, token));
  // SentencePiece's control and user-defined symbols match as whole tokens too.
  model.pieces.forEach((piece, id) => {
    if (piece.type === 'control' || piece.type === 'user_defined') special.push(addedToken(id, piece.piece, { special: piece.type === 'control' }));
  });
  const charsmap = model.normalizerSpec.precompiledCharsmap;
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  const eosId = idIn(ids, eos, 'spiece.model');
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: byId(special),
    normalizer: charsmap.length > 0 ? { type: 'Precompiled', precompiled_charsmap: Buffer.from(charsmap).toString('base64') } : null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: model.trainerSpec.unkId, vocab, byte_fallback: false },
  };
}

// ---------------------------------------------------------------------------------------------
// BERT: WordPiece (vocab.txt) behind BERT's basic tokenizer.

/** vocab.txt as transformers' load_vocab reads it: one token per line, the line number its id. */
export function parseWordPieceVocab(vocabTxt: string): Map<string, number> {
  // Python's text mode reads \r\n and \r as line ends too; a final newline ends the last line.
  const lines = vocabTxt.split(/\r\n|\r|\n/u);
  if (lines.at(-1) === '') lines.pop();
  const vocab = new Map<string, number>();
  // A repeated token keeps its last line's id, as dict assignment does.
  lines.forEach((token, id) => vocab.set(token, id));
  return vocab;
}

/** BertTokenizer's files (vocab.txt + tokenizer_config.json) as a tokenizer.json. */
export function bertTokenizerJson(vocabTxt: string, config: JsonObject = {}): JsonObject {
  const vocab = parseWordPieceVocab(vocabTxt);
  if (vocab.size === 0) throw new CuratorError('model_load_failed', 'vocab.txt is empty');
  const unk = configuredToken(config, 'unk_token', '[UNK]');
  const cls = configuredToken(config, 'cls_token', '[CLS]');
  const sep = configuredToken(config, 'sep_token', '[SEP]');
  const specials = [configuredToken(config, 'pad_token', '[PAD]'), unk, cls, sep, configuredToken(config, 'mask_token', '[MASK]')];
  const clsId = idIn(vocab, cls, 'vocab.txt');
  const sepId = idIn(vocab, sep, 'vocab.txt');
  idIn(vocab, unk, 'vocab.txt');
  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: byId(specials.filter((token) => vocab.has(token)).map((token) => addedToken(vocab.get(token)!, token))),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars !== false,
      strip_accents: typeof config.strip_accents === 'boolean' ? config.strip_accents : null,
      lowercase: config.do_lower_case !== false,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
      pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
      special_tokens: { [cls]: { id: cls, ids: [clsId], tokens: [cls] }, [sep]: { id: sep, ids: [sepId], tokens: [sep] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab) },
  };
}
