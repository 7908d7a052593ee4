// Engine-test fixtures: variants of the test models (layouts, precisions, I/O types, sizes) written
// directly by @curator/graphs' builders from the test set's configs, tokenizers and seeded weights.
// The test set itself (CURATOR_MODELS=test) is @curator/models' ensureTestModels.
export { GraphBuilder, attr, DataType, float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array } from '@curator/graphs/graph';
export type { ElementType, Dim, Precision } from '@curator/graphs/graph';
export { SeededRandom } from '@curator/graphs/random';
export { writeTestSentimentModel, writeTestGenreModel, writeTestClassifier } from './classifier.ts';
export { writeTestT5, tinyT5Config, t5SmallConfig, t5FileName, type T5Config, type WriteTestT5Options } from './t5.ts';
export { writeTestStableDiffusion, type TestStableDiffusionOptions } from './stable-diffusion.ts';
