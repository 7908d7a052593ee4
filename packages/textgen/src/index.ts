export { TextGenerator, type TextGeneratorLoadOptions, type GenerateCallOptions } from './text-generator.ts';
export type { BatchingOptions, GenerationProgress, IdsResult, TextResult, TextGenInfo, TextGenEngineOptions } from './engine.ts';
export { stageText } from './engine.ts';
export { optionsFromParams, resolveOptions, readGenerationConfig, stageDefaults, beamSearchVersions, type GenerateOptions, type ResolvedOptions, type Stage, type DecodingMode, type BeamSearchVersion } from './options.ts';
export { MicroBatcher, type MicroBatcherOptions, type SubmitOptions } from './micro-batcher.ts';
export { generateBatch, type GenerationRequest, type GenerationResult, type GeneratedSequence } from './generate.ts';
export { Seq2SeqModel, type Seq2SeqLoadOptions, type DecoderLayout, type Precision } from './seq2seq-model.ts';
