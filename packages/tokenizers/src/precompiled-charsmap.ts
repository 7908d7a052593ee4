import { CuratorError } from '@curator/contracts';
import { Normalizer } from './tokenizers-library.ts';

/*
 * SentencePiece's normalization rules (T5's `nmt_nfkc`: NFKC plus whitespace and control-character
 * rules) ship compiled into `precompiled_charsmap`: a little-endian u32 byte length, a darts-clone
 * double-array trie over UTF-8 bytes of that length, then a pool of NUL-terminated replacement
 * strings that the trie's values point into.
 *
 * @huggingface/tokenizers does not read the charsmap (it approximates it with NFKC and a few
 * replacements), so T5's tokens would differ from Hugging Face's on full-width forms, control
 * characters and more. This normalizer applies the charsmap the way Hugging Face's `tokenizers`
 * (Rust) does: per extended grapheme cluster, the whole cluster when it is under 6 UTF-8 bytes and
 * the trie knows a prefix of it, else code point by code point; a lookup takes the *shortest*
 * prefix the trie holds. (SentencePiece itself takes the longest match, so the two differ on a few
 * combining sequences; transformers' T5 tokenizers follow `tokenizers`.)
 */

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export class PrecompiledCharsmap {
  readonly #units: Uint32Array;
  readonly #pool: Uint8Array;
  readonly #replacements = new Map<number, string>();

  constructor(charsmap: Uint8Array) {
    if (charsmap.length < 4) throw new CuratorError('model_load_failed', 'precompiled_charsmap is shorter than its header');
    const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > charsmap.length) {
      throw new CuratorError('model_load_failed', `precompiled_charsmap: a trie of ${trieBytes} bytes does not fit in ${charsmap.length}`);
    }
    this.#units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.#units.length; i++) this.#units[i] = view.getUint32(4 + i * 4, true);
    this.#pool = charsmap.subarray(4 + trieBytes);
  }

  /** The replacement for the shortest prefix of `bytes` that the rules hold, if any. */
  transform(bytes: Uint8Array): string | undefined {
    const units = this.#units;
    let position = offsetOf(units[0]!);
    for (const byte of bytes) {
      if (byte === 0) return undefined;
      position = (position ^ byte) >>> 0;
      const unit = units[position];
      // The unit's label must be this byte (bit 31 set means no label).
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== byte) return undefined;
      position = (position ^ offsetOf(unit)) >>> 0;
      if ((unit >>> 8) & 1) {
        const leaf = units[position];
        return leaf === undefined ? undefined : this.#replacement(leaf & 0x7fffffff);
      }
    }
    return undefined;
  }

  #replacement(start: number): string | undefined {
    const cached = this.#replacements.get(start);
    if (cached !== undefined) return cached;
    if (start > this.#pool.length) return undefined;
    let end = this.#pool.indexOf(0, start);
    if (end === -1) end = this.#pool.length;
    let text: string;
    try {
      text = fromUtf8.decode(this.#pool.subarray(start, end));
    } catch {
      return undefined;
    }
    this.#replacements.set(start, text);
    return text;
  }
}

function offsetOf(unit: number): number {
  // (unit >> 10) << ((unit & (1 << 9)) >> 6): bit 9 says whether the offset is scaled by 256.
  return (unit >>> 10) * (unit & 0x200 ? 256 : 1);
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** A @huggingface/tokenizers normalizer that applies a precompiled charsmap faithfully. */
export class CharsmapNormalizer extends Normalizer {
  readonly #charsmap: PrecompiledCharsmap;
  // Text is mostly the same few graphemes over and over.
  readonly #cache = new Map<string, string>();

  constructor(charsmap: Uint8Array) {
    super({ type: 'Precompiled' });
    this.#charsmap = new PrecompiledCharsmap(charsmap);
  }

  override normalize(text: string): string {
    let out = '';
    for (const { segment } of graphemes.segment(text)) {
      let normalized = this.#cache.get(segment);
      if (normalized === undefined) {
        normalized = this.#normalizeGrapheme(segment);
        if (this.#cache.size > 20_000) this.#cache.clear();
        this.#cache.set(segment, normalized);
      }
      out += normalized;
    }
    return out;
  }

  #normalizeGrapheme(grapheme: string): string {
    const bytes = utf8.encode(grapheme);
    if (bytes.length < 6) {
      const whole = this.#charsmap.transform(bytes);
      if (whole !== undefined) return whole;
    }
    let out = '';
    for (const codePoint of grapheme) out += this.#charsmap.transform(utf8.encode(codePoint)) ?? codePoint;
    return out;
  }
}

/** The charsmap of a tokenizer.json `Precompiled` normalizer (base64). */
export function charsmapFromJson(config: unknown): Uint8Array {
  const encoded = (config as { precompiled_charsmap?: unknown } | null)?.precompiled_charsmap;
  if (typeof encoded !== 'string') throw new CuratorError('model_load_failed', 'tokenizer.json: a Precompiled normalizer has no precompiled_charsmap');
  return Buffer.from(encoded, 'base64');
}
