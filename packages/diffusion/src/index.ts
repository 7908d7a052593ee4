export { ImageGenerator, encodeRgb, contentTypes } from './image-generator.ts';
export type { ImageFormat, ImageGeneratorLoadOptions, GenerateRequest, GenerateResult, GeneratedImage, GenerateCallOptions } from './image-generator.ts';
export type { DenoiseProgress, DiffusionEngineInfo, DiffusionEngineOptions } from './engine.ts';
export { createScheduler, parseSchedulerConfig, resolveSchedulerConfig, alphasCumprod, schedulerNames } from './schedulers.ts';
export type { Scheduler, SchedulerConfig, ResolvedSchedulerConfig, SchedulerName, PredictionType, TimestepSpacing, BetaSchedule } from './schedulers.ts';
export { GaussianNoise, randomSeed } from './noise.ts';
