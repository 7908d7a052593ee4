import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { BERTWEET_MAX_LENGTH, BertweetTokenizer, type BertweetPreprocessing } from './bertweet.ts';
import { bertTokenizerJson, clipTokenizerJson, t5TokenizerJson } from './converters.ts';
import { HuggingFaceTokenizer } from './huggingface.ts';
import { readSentencePieceModel } from './sentencepiece-model.ts';
import type { TextTokenizer, TokenizerSource } from './types.ts';

export type { BatchEncoding, DecodeOptions, EncodeBatchOptions, EncodeOptions, Encoding, TextTokenizer, TokenizerSource } from './types.ts';
export { BERTWEET_MAX_LENGTH, BertweetTokenizer, type BertweetOptions, type BertweetPreprocessing } from './bertweet.ts';
export { DEFAULT_MODEL_MAX_LENGTH, HuggingFaceTokenizer, type HuggingFaceTokenizerOptions } from './huggingface.ts';
export { bertTokenizerJson, clipTokenizerJson, t5TokenizerJson } from './converters.ts';
export { readSentencePieceModel, writeSentencePieceModel, type SentencePiece, type SentencePieceModel, type SentencePieceType } from './sentencepiece-model.ts';
export { preprocessTweet } from './pysentimiento.ts';
export { tweetTokenize } from './tweet-tokenizer.ts';
export { demojize, demojizeCodePoint } from './emoji-names.ts';

export const BERTWEET_FILES = ['vocab.txt', 'bpe.codes'] as const;
export const HUGGINGFACE_FILE = 'tokenizer.json';

/** The file sets loadTokenizer recognises, in the order it looks for them. */
export const TOKENIZER_FILE_SETS: ReadonlyArray<{ source: TokenizerSource; files: readonly string[] }> = [
  { source: 'tokenizer.json', files: ['tokenizer.json'] },
  { source: 'spiece.model', files: ['spiece.model'] },
  { source: 'vocab.json+merges.txt', files: ['vocab.json', 'merges.txt'] },
  { source: 'vocab.txt+bpe.codes', files: BERTWEET_FILES },
  { source: 'vocab.txt', files: ['vocab.txt'] },
];

export interface LoadTokenizerOptions {
  /** Overrides model_max_length from the tokenizer files. */
  modelMaxLength?: number;
  /**
   * BERTweet (vocab.txt + bpe.codes) only: what the text goes through first. Default
   * 'pysentimiento', the preprocessing the sentiment model was trained with; 'huggingface' is what
   * transformers' pipeline does (the text as it is, or BERTweet's own normalization when
   * tokenizer_config.json turns it on). See the package README.
   */
  preprocessing?: BertweetPreprocessing;
}

async function readBytes(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CuratorError('model_load_failed', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function readText(path: string): Promise<string | undefined> {
  return (await readBytes(path))?.toString('utf8');
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new CuratorError('model_load_failed', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** The files of the first set that is complete in `modelDir`, read. */
async function findTokenizerFiles(modelDir: string): Promise<{ source: TokenizerSource; contents: Buffer[] } | undefined> {
  for (const { source, files } of TOKENIZER_FILE_SETS) {
    const contents = await Promise.all(files.map((file) => readBytes(join(modelDir, file))));
    if (contents.every((content) => content !== undefined)) return { source, contents: contents as Buffer[] };
  }
  return undefined;
}

/**
 * Loads the tokenizer of a model folder from local files only, from the first complete set of:
 * tokenizer.json (any model), spiece.model (T5), vocab.json + merges.txt (CLIP), vocab.txt +
 * bpe.codes (BERTweet), vocab.txt (BERT WordPiece). tokenizer_config.json and
 * special_tokens_map.json are read when present.
 */
export async function loadTokenizer(modelDir: string, options: LoadTokenizerOptions = {}): Promise<TextTokenizer> {
  const [found, tokenizerConfig, specialTokensMap] = await Promise.all([
    findTokenizerFiles(modelDir),
    readJson(join(modelDir, 'tokenizer_config.json')),
    readJson(join(modelDir, 'special_tokens_map.json')),
  ]);
  const config = { ...specialTokensMap, ...tokenizerConfig };
  if (!found) {
    const sets = TOKENIZER_FILE_SETS.map(({ files }) => files.join(' + ')).join(', ');
    throw new CuratorError('model_missing', `No tokenizer in ${modelDir}: looked for ${sets}`);
  }
  const { source, contents } = found;
  const text = (index: number): string => contents[index]!.toString('utf8');
  const huggingFace = (json: unknown) => new HuggingFaceTokenizer(json, config, { modelMaxLength: options.modelMaxLength, source });
  switch (source) {
    case 'tokenizer.json': {
      let json: unknown;
      try {
        json = JSON.parse(text(0));
      } catch (error) {
        throw new CuratorError('model_load_failed', `${join(modelDir, HUGGINGFACE_FILE)} is not valid JSON: ${(error as Error).message}`, { cause: error });
      }
      return huggingFace(json);
    }
    case 'spiece.model':
      return huggingFace(t5TokenizerJson(readSentencePieceModel(contents[0]!, join(modelDir, 'spiece.model')), config));
    case 'vocab.json+merges.txt':
      return huggingFace(clipTokenizerJson(text(0), text(1), config));
    case 'vocab.txt+bpe.codes': {
      const configuredMax = typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? config.model_max_length : undefined;
      return BertweetTokenizer.fromFiles(text(0), text(1), {
        // transformers' BertweetTokenizer normalizes only when told to.
        normalization: config.normalization === true,
        preprocessing: options.preprocessing ?? 'pysentimiento',
        modelMaxLength: options.modelMaxLength ?? configuredMax ?? BERTWEET_MAX_LENGTH,
      });
    }
    case 'vocab.txt':
      return huggingFace(bertTokenizerJson(text(0), config));
  }
}
