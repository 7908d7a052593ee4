import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { BERTWEET_MAX_LENGTH, BertweetTokenizer } from './bertweet.ts';
import { HuggingFaceTokenizer } from './huggingface.ts';
import type { TextTokenizer } from './types.ts';

export type { BatchEncoding, DecodeOptions, EncodeBatchOptions, EncodeOptions, Encoding, TextTokenizer } from './types.ts';
export { BERTWEET_MAX_LENGTH, BertweetTokenizer, type BertweetOptions } from './bertweet.ts';
export { DEFAULT_MODEL_MAX_LENGTH, HuggingFaceTokenizer, type HuggingFaceTokenizerOptions } from './huggingface.ts';
export { tweetTokenize } from './tweet-tokenizer.ts';
export { demojizeCodePoint } from './emoji-names.ts';

export const BERTWEET_FILES = ['vocab.txt', 'bpe.codes'] as const;
export const HUGGINGFACE_FILE = 'tokenizer.json';

export interface LoadTokenizerOptions {
  /** Overrides model_max_length from the tokenizer files. */
  modelMaxLength?: number;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CuratorError('model_load_failed', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CuratorError('model_load_failed', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Loads the tokenizer of a model folder, from local files only: vocab.txt + bpe.codes make a
 * BERTweet tokenizer, a tokenizer.json a Hugging Face one (tokenizer_config.json and
 * special_tokens_map.json are read when present).
 */
export async function loadTokenizer(modelDir: string, options: LoadTokenizerOptions = {}): Promise<TextTokenizer> {
  const [vocabTxt, bpeCodes, tokenizerJson, tokenizerConfig, specialTokensMap] = await Promise.all([
    readText(join(modelDir, 'vocab.txt')),
    readText(join(modelDir, 'bpe.codes')),
    readJson(join(modelDir, HUGGINGFACE_FILE)),
    readJson(join(modelDir, 'tokenizer_config.json')),
    readJson(join(modelDir, 'special_tokens_map.json')),
  ]);
  const config = { ...specialTokensMap, ...tokenizerConfig };

  if (vocabTxt !== undefined && bpeCodes !== undefined) {
    const configuredMax = typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? config.model_max_length : undefined;
    return BertweetTokenizer.fromFiles(vocabTxt, bpeCodes, {
      normalization: typeof config.normalization === 'boolean' ? config.normalization : true,
      modelMaxLength: options.modelMaxLength ?? configuredMax ?? BERTWEET_MAX_LENGTH,
    });
  }
  if (tokenizerJson !== undefined) return new HuggingFaceTokenizer(tokenizerJson, config, options);
  throw new CuratorError(
    'model_missing',
    `No tokenizer in ${modelDir}: looked for ${BERTWEET_FILES.join(' + ')} (BERTweet) or ${HUGGINGFACE_FILE}`,
  );
}
