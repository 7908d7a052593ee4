import { CuratorError } from '@curator/contracts';
import type { BatchEncoding, EncodeBatchOptions, Encoding, TextTokenizer } from './types.ts';

export function resolveMaxLength(maxLength: number | undefined, modelMaxLength: number): number {
  const resolved = maxLength ?? modelMaxLength;
  if (!Number.isInteger(resolved) || resolved < 1) {
    throw new CuratorError('bad_input', `maxLength must be a positive integer, got ${String(resolved)}`);
  }
  return resolved;
}

/**
 * Cuts the content so that prefix + content + suffix fits in maxLength: like Hugging Face's
 * truncation of a single sequence, the special tokens (e.g. the closing </s>) always stay.
 */
export function assemble(prefix: readonly number[], content: readonly number[], suffix: readonly number[], maxLength: number): Encoding {
  const originalLength = prefix.length + content.length + suffix.length;
  const room = Math.max(0, maxLength - prefix.length - suffix.length);
  const truncated = content.length > room;
  let inputIds = [...prefix, ...(truncated ? content.slice(0, room) : content), ...suffix];
  // Only a maxLength smaller than the special tokens themselves gets here.
  if (inputIds.length > maxLength) inputIds = inputIds.slice(0, maxLength);
  return { inputIds, attentionMask: inputIds.map(() => 1), truncated: truncated || originalLength > maxLength, originalLength };
}

export function encodeBatch(tokenizer: TextTokenizer, texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
  const padTo = options.padTo ?? 'longest';
  if (padTo !== 'longest' && (!Number.isInteger(padTo) || padTo < 1)) {
    throw new CuratorError('bad_input', `padTo must be 'longest' or a positive integer, got ${String(padTo)}`);
  }
  let maxLength = resolveMaxLength(options.maxLength, tokenizer.modelMaxLength);
  if (padTo !== 'longest') maxLength = Math.min(maxLength, padTo);
  const encodings = texts.map((text) => tokenizer.encode(text, { maxLength }));
  const width = padTo === 'longest' ? Math.max(0, ...encodings.map((encoding) => encoding.inputIds.length)) : padTo;
  const padding = (length: number, value: number): number[] => new Array<number>(width - length).fill(value);
  return {
    inputIds: encodings.map((encoding) => [...encoding.inputIds, ...padding(encoding.inputIds.length, tokenizer.padTokenId)]),
    attentionMask: encodings.map((encoding) => [...encoding.attentionMask, ...padding(encoding.attentionMask.length, 0)]),
    truncated: encodings.map((encoding) => encoding.truncated),
    originalLengths: encodings.map((encoding) => encoding.originalLength),
  };
}
