// A small T5 tokenizer in the files T5 repositories publish: a SentencePiece Unigram model
// (spiece.model) with `<pad>`=0, `</s>`=1, `<unk>`=2, pieces with the ▁ word-start marker and
// SentencePiece's nmt_nfkc normalization rules; the tokenizer.json a fast tokenizer saves for it
// (t5-small publishes both; Curator fetches tokenizer.json); tokenizer_config.json and
// special_tokens_map.json as save_pretrained writes them. It covers English letters, digits and punctuation, so any English
// text encodes.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readSentencePieceModel, t5TokenizerJson, writeSentencePieceModel, type SentencePiece } from '@curator/tokenizers';

const commonWords = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'her she there been one all we their has would more if will when who what its new said about up out year years people ' +
  'government president minister company market price prices report reported police court city state world first last after ' +
  'over two three million percent news week day time may can also could than into some other most market team game win'
)
  .split(' ')
  .filter((w, i, all) => w && all.indexOf(w) === i);

const commonPieces = ['ing', 'ed', 'er', 'es', 'ly', 'tion', 's', 'en', 'al', 're', 'th', 'an', 'on', 'in', 'at', 'or', 'ent', 'ers', 'est'];

/** The pieces with their Unigram log-probabilities; longer pieces score better per character. */
export function t5TokenizerVocab(vocabSize: number): [string, number][] {
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
  ];
  const seen = new Set(vocab.map(([p]) => p));
  const add = (piece: string, score: number) => {
    if (seen.has(piece) || vocab.length >= vocabSize) return;
    seen.add(piece);
    vocab.push([piece, score]);
  };
  add('▁', -6);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const chars = `${letters}${letters.toUpperCase()}0123456789.,;:!?'"()-–—/&%$€£@#*+=[]_<>|~\`^{}\\`;
  for (const c of chars) add(c, -10);
  for (const c of `${letters}${letters.toUpperCase()}0123456789`) add(`▁${c}`, -9);
  for (const w of commonWords) add(`▁${w}`, -4 - w.length * 0.1);
  for (const p of commonPieces) add(p, -6 - p.length * 0.1);
  // Filler pieces up to the model's vocabulary, so every id the model can emit decodes.
  for (let i = 0; vocab.length < vocabSize; i++) add(`▁tok${i}`, -20);
  return vocab;
}

/**
 * SentencePiece's built-in nmt_nfkc rules as its trainer compiles them into every model trained
 * with them (see assets/README.md).
 */
let charsmap: Uint8Array | undefined;
function nmtNfkcCharsmap(): Uint8Array {
  charsmap ??= gunzipSync(readFileSync(new URL('../../assets/nmt_nfkc.charsmap.gz', import.meta.url)));
  return charsmap;
}

const pieceType = (piece: string): SentencePiece['type'] => (piece === '<unk>' ? 'unknown' : piece === '<pad>' || piece === '</s>' ? 'control' : 'normal');

/** spiece.model for {@link t5TokenizerVocab}: what SentencePiece's trainer writes with T5's settings. */
export function t5SentencePieceModel(vocabSize: number): Uint8Array {
  const pieces = t5TokenizerVocab(vocabSize).map(([piece, score]) => ({ piece, score, type: pieceType(piece) }));
  return writeSentencePieceModel({
    pieces,
    trainerSpec: {
      modelType: 'unigram',
      vocabSize: pieces.length,
      byteFallback: false,
      unkId: 2,
      bosId: -1,
      eosId: 1,
      padId: 0,
      unkPiece: '<unk>',
      bosPiece: '<s>',
      eosPiece: '</s>',
      padPiece: '<pad>',
    },
    normalizerSpec: { name: 'nmt_nfkc', precompiledCharsmap: nmtNfkcCharsmap(), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  });
}

export interface T5TokenizerFilesOptions {
  vocabSize: number;
  modelMaxLength?: number;
}

/**
 * spiece.model, the tokenizer.json a fast tokenizer saves for it (t5-small publishes both),
 * tokenizer_config.json (t5-small's keys) and special_tokens_map.json, by file name. The model
 * has no sentinel tokens (extra_ids 0): its whole vocabulary is pieces.
 */
export function t5TokenizerFiles(options: T5TokenizerFilesOptions): Record<string, Uint8Array | string> {
  const spiece = t5SentencePieceModel(options.vocabSize);
  const tokens = { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' };
  const config = { additional_special_tokens: [], clean_up_tokenization_spaces: true, ...tokens, extra_ids: 0, model_max_length: options.modelMaxLength ?? 512, tokenizer_class: 'T5Tokenizer' };
  return {
    'spiece.model': spiece,
    // What a fast tokenizer made from this spiece.model saves (the same conversion Curator runs).
    'tokenizer.json': JSON.stringify(t5TokenizerJson(readSentencePieceModel(spiece), config)),
    'tokenizer_config.json': `${JSON.stringify(config, null, 2)}\n`,
    'special_tokens_map.json': JSON.stringify(tokens, null, 2),
  };
}

/** Writes every file of {@link t5TokenizerFiles} into `dir`. */
export async function writeT5Tokenizer(dir: string, options: T5TokenizerFilesOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(t5TokenizerFiles(options))) await writeFile(join(dir, name), content);
}
