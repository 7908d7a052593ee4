// A small CLIP byte-level BPE tokenizer with the files Stable Diffusion repositories publish in
// tokenizer/ (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json; no
// tokenizer.json): every byte as a symbol and as a word end (`</w>`), merges that spell a few
// hundred common words, and the two CLIP special tokens last, in CLIP's vocabulary order.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const clipStartToken = '<|startoftext|>';
export const clipEndToken = '<|endoftext|>';
export const clipMaxLength = 77;

/** GPT-2/CLIP's reversible byte -> printable character table, in vocabulary order. */
export function clipByteAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars = printable.map((b) => String.fromCodePoint(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) chars.push(String.fromCodePoint(256 + extra++));
  }
  return chars;
}

const words = `a an the of in on at to for with and or by from as is are was were be been has have had it its this that
news story report city world people year day night time man woman child children house car road river sea sky sun moon
star tree forest mountain street market bank money price oil gas energy power water fire storm rain snow wind light dark
red blue green yellow black white gold silver old new big small high low long short fast slow hot cold good bad best
government minister president election vote party law court police war peace army health hospital doctor school student
game team player match goal cup win lost football music film art photo painting portrait city landscape digital detailed
beautiful realistic cinematic lighting highly style oil canvas watercolor sketch drawing illustration render dramatic
crowd building bridge tower castle ship train plane robot computer phone technology science space planet earth ocean`
  .split(/\s+/)
  .filter(Boolean);

/** Merges that build each word left to right, ending with the `</w>` piece (CLIP's word-final symbol). */
function buildMerges(): Array<[string, string]> {
  const seen = new Set<string>();
  const merges: Array<[string, string]> = [];
  for (const word of words) {
    const chars = [...word];
    if (chars.length < 2) continue;
    let left = chars[0]!;
    for (let i = 1; i < chars.length; i++) {
      const right = i === chars.length - 1 ? `${chars[i]}</w>` : chars[i]!;
      const key = `${left} ${right}`;
      if (!seen.has(key)) {
        seen.add(key);
        merges.push([left, right]);
      }
      left += right;
    }
  }
  return merges;
}

export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  merges: Array<[string, string]>;
  startId: number;
  endId: number;
}

export function buildClipTokenizer(): ClipTokenizerFiles {
  const alphabet = clipByteAlphabet();
  const tokens = [...alphabet, ...alphabet.map((c) => `${c}</w>`)];
  const merges = buildMerges();
  for (const [a, b] of merges) tokens.push(a + b);
  const vocab: Record<string, number> = {};
  for (const token of tokens) if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  const startId = Object.keys(vocab).length;
  vocab[clipStartToken] = startId;
  vocab[clipEndToken] = startId + 1;
  return { vocab, merges, startId, endId: startId + 1 };
}

/** The tokenizer/ files by name (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json) and the ids the text encoder needs. */
export function clipTokenizerFiles(): { vocabSize: number; startId: number; endId: number; files: Record<string, string> } {
  const { vocab, merges, startId, endId } = buildClipTokenizer();
  const specialTokens = { bos_token: clipStartToken, eos_token: clipEndToken, unk_token: clipEndToken, pad_token: clipEndToken };
  // As CompVis/stable-diffusion-v1-4's tokenizer/tokenizer_config.json (which OFA-Sys's small SD copies).
  const addedToken = (content: string) => ({ __type: 'AddedToken', content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  const tokenizerConfig = {
    add_prefix_space: false,
    bos_token: addedToken(clipStartToken),
    do_lower_case: true,
    eos_token: addedToken(clipEndToken),
    errors: 'replace',
    model_max_length: clipMaxLength,
    name_or_path: 'openai/clip-vit-large-patch14',
    pad_token: clipEndToken,
    special_tokens_map_file: './special_tokens_map.json',
    tokenizer_class: 'CLIPTokenizer',
    unk_token: addedToken(clipEndToken),
  };
  return {
    vocabSize: endId + 1,
    startId,
    endId,
    files: {
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`,
      'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2),
      'special_tokens_map.json': JSON.stringify(specialTokens, null, 2),
    },
  };
}

/** Writes the tokenizer files into `dir` and returns the vocabulary size. */
export async function writeClipTokenizer(dir: string): Promise<{ vocabSize: number; startId: number; endId: number }> {
  const { files, ...ids } = clipTokenizerFiles();
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return ids;
}
