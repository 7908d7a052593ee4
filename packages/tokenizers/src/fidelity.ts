import { CharsmapNormalizer, charsmapFromJson } from './precompiled-charsmap.ts';
import {
  BertNormalizer,
  ByteLevelPreTokenizer,
  LowercaseNormalizer,
  Normalizer,
  PrecompiledNormalizer,
  PreTokenizer,
  SequenceNormalizer,
  SequencePreTokenizer,
  WhitespaceSplitPreTokenizer,
  type ByteLevelPreTokenizerInstance,
  type NormalizerInstance,
  type PreTokenizerInstance,
  type SequenceNormalizerInstance,
  type SequencePreTokenizerInstance,
  type TokenizerPipeline,
} from './tokenizers-library.ts';

/*
 * @huggingface/tokenizers (JavaScript) runs a tokenizer.json the way Hugging Face's `tokenizers`
 * (Rust, what transformers runs) does, with a few parts that differ. Those parts are swapped here
 * for ones that follow the Rust code; each was found by a reference string whose ids differed
 * (packages/reference/tokenizers):
 *
 * - Precompiled (T5): ignores SentencePiece's charsmap and approximates it with NFKC.
 * - Lowercase (CLIP): lowercases the whole string, so a final capital sigma becomes "ς"; Rust
 *   lowercases each character on its own ("σ").
 * - BertNormalizer (BERT): the same sigma case; lowercases before stripping accents (Rust strips
 *   first); looks at UTF-16 units, so CJK ideographs outside the BMP get no spaces around them;
 *   and its CJK ranges are not Rust's.
 * - WhitespaceSplit (T5): splits on JavaScript's \s, which lacks U+0085 and has U+FEFF; Rust
 *   splits on the Unicode White_Space property.
 * - ByteLevel (CLIP, GPT-2): its word pattern uses JavaScript's \s too (the library already
 *   rewrites \s in the patterns a tokenizer.json spells out, not in this built-in one).
 */

// ---------------------------------------------------------------------------------------------

/** Rust's char::to_lowercase applied to each character: no final-sigma context. */
export function lowercaseEachCharacter(text: string): string {
  // U+03A3 is the only character whose JavaScript lowercase depends on its neighbours.
  if (!text.includes('\u03A3')) return text.toLowerCase();
  let out = '';
  for (const character of text) out += character.toLowerCase();
  return out;
}

class RustLowercase extends Normalizer {
  constructor() {
    super({ type: 'Lowercase' });
  }

  override normalize(text: string): string {
    return lowercaseEachCharacter(text);
  }
}

// Rust's is_chinese_char: the CJK Unified Ideographs blocks BERT puts spaces around.
const CJK_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
const isCjk = (codePoint: number): boolean => CJK_RANGES.some(([low, high]) => codePoint >= low && codePoint <= high);
// Characters BERT's cleaning drops: NUL, U+FFFD and the "other" categories but Cn, less \t \n \r.
const DROPPED = /[\0\uFFFD]|(?![\t\n\r])[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu;
const WHITESPACE = /[\p{White_Space}\t\n\r]/gu;
const NONSPACING_MARK = /\p{Mn}/gu;

interface BertNormalizerSettings {
  clean_text?: boolean;
  handle_chinese_chars?: boolean;
  strip_accents?: boolean | null;
  lowercase?: boolean;
}

class RustBertNormalizer extends Normalizer {
  readonly #settings: Required<{ [K in keyof BertNormalizerSettings]: boolean }>;

  constructor(settings: BertNormalizerSettings) {
    super({ type: 'BertNormalizer' });
    const lowercase = settings.lowercase ?? true;
    this.#settings = {
      clean_text: settings.clean_text ?? true,
      handle_chinese_chars: settings.handle_chinese_chars ?? true,
      // null means "as lowercase", as in transformers' BertTokenizer.
      strip_accents: settings.strip_accents ?? lowercase,
      lowercase,
    };
  }

  override normalize(text: string): string {
    let out = text;
    if (this.#settings.clean_text) out = out.replace(DROPPED, '').replace(WHITESPACE, ' ');
    if (this.#settings.handle_chinese_chars) {
      let spaced = '';
      for (const character of out) spaced += isCjk(character.codePointAt(0)!) ? ` ${character} ` : character;
      out = spaced;
    }
    if (this.#settings.strip_accents) out = out.normalize('NFD').replace(NONSPACING_MARK, '');
    if (this.#settings.lowercase) out = lowercaseEachCharacter(out);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------

/** GPT-2's pattern as Rust compiles it: \s is White_Space (onig), not JavaScript's \s. */
const BYTE_LEVEL_WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

class RustWhitespaceSplit extends PreTokenizer {
  override pre_tokenize_text(text: string): string[] {
    return text.split(/\p{White_Space}+/u).filter((word) => word !== '');
  }
}

// ---------------------------------------------------------------------------------------------

// The library's classes share one structural type here, so instanceof cannot narrow: test, then cast.
const isA = (value: object, type: abstract new (...args: never[]) => unknown): boolean => value instanceof type;

function replaceNormalizer(normalizer: NormalizerInstance | null): NormalizerInstance | null {
  if (normalizer === null) return null;
  if (isA(normalizer, PrecompiledNormalizer)) return new CharsmapNormalizer(charsmapFromJson(normalizer.config));
  if (isA(normalizer, LowercaseNormalizer)) return new RustLowercase();
  if (isA(normalizer, BertNormalizer)) return new RustBertNormalizer(normalizer.config as BertNormalizerSettings);
  if (isA(normalizer, SequenceNormalizer)) {
    const sequence = normalizer as SequenceNormalizerInstance;
    sequence.normalizers = sequence.normalizers.map(replaceNormalizer);
  }
  return normalizer;
}

function replacePreTokenizer(preTokenizer: PreTokenizerInstance | null): PreTokenizerInstance | null {
  if (preTokenizer === null) return null;
  if (isA(preTokenizer, WhitespaceSplitPreTokenizer)) return new RustWhitespaceSplit();
  if (isA(preTokenizer, ByteLevelPreTokenizer)) (preTokenizer as ByteLevelPreTokenizerInstance).pattern = BYTE_LEVEL_WORDS;
  if (isA(preTokenizer, SequencePreTokenizer)) {
    const sequence = preTokenizer as SequencePreTokenizerInstance;
    sequence.tokenizers = sequence.tokenizers.map(replacePreTokenizer);
  }
  return preTokenizer;
}

/** Swaps the parts of a loaded tokenizer that differ from Hugging Face's Rust `tokenizers`. */
export function matchRustTokenizers(tokenizer: TokenizerPipeline): void {
  tokenizer.normalizer = replaceNormalizer(tokenizer.normalizer);
  tokenizer.pre_tokenizer = replacePreTokenizer(tokenizer.pre_tokenizer);
}
