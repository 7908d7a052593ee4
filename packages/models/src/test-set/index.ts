// The test set's parts, for test fixtures that build variants of the test models (other layouts,
// precisions, I/O types) from the same configs, tokenizers and seeded tensors.
export { randomClassifierWeights, seededT5Weights } from './weights.ts';
export * from './configs.ts';
export { t5TokenizerFiles, t5TokenizerVocab, t5SentencePieceModel, writeT5Tokenizer, type T5TokenizerFilesOptions } from './t5-tokenizer.ts';
export { bertweetTokenizerFiles, bertWordPieceTokenizerFiles, writeBertweetTokenizerFiles, writeBertWordPieceTokenizer, COMMON_WORDS, type TokenizerFiles, type WrittenTokenizer } from './tokenizer-files.ts';
export { clipTokenizerFiles, writeClipTokenizer, buildClipTokenizer, clipByteAlphabet, clipStartToken, clipEndToken, type ClipTokenizerFiles } from './clip-tokenizer.ts';
