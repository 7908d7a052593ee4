import { CuratorError, type ArticleInput, type Classification, type ImageParams, type GenerationParams, type ModelSet, type StoredObject, type ImageGeneration } from '@curator/contracts';
import type { ObjectStorage } from '@curator/storage';
import type { WorkerMetrics } from '@curator/telemetry';
import { resolveArticle, type ResolveArticleOptions, type ResolvedArticle } from '@curator/articles';
import { composeCard } from '@curator/card';
import type { TextResult } from '@curator/textgen';
import { isDeterministicGeneration, isDeterministicImage, type JobContext, type StageOutcome } from '@curator/queue';
import type { ModelHost } from './model-host.ts';

/** What every stage works with: the job (its stages, signal, children) and the worker's parts. */
export interface PipelineContext {
  job: JobContext;
  signal: AbortSignal;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  models: ModelHost;
  /** Which models made the output: results and cards say so. */
  modelSet: ModelSet;
  /** How articles are fetched and extracted: network rules, extraction threads, the length limit. */
  articles: Omit<ResolveArticleOptions, 'signal'>;
}

/**
 * First stage of every article job: the text as given (normalized), or fetched and extracted. Cached
 * by its input like every other stage, so within the cache's lifetime (JOB_TTL_SECONDS) a rerun, or
 * another job on the same URL, reads the article the first job read instead of fetching it again.
 */
export function articleStage(input: ArticleInput, context: PipelineContext): Promise<ResolvedArticle> {
  return context.job.stage('extract', { cacheKey: { input } }, async () => {
    const article = await resolveArticle(input, { ...context.articles, signal: context.signal });
    // A title given with a URL replaces the page's own.
    const resolved = input.title ? { ...article, title: input.title } : article;
    return { value: resolved, metrics: { characters: resolved.text.length } };
  });
}

export async function classifyStage(text: string, task: 'sentiment' | 'genre', context: PipelineContext): Promise<Classification> {
  const modelId = context.models.modelId(task);
  return context.job.stage(task, { model: modelId, cacheKey: { text } }, async () => {
    const [result] = await context.models.classifier(task).classify([text], { signal: context.signal });
    if (!result) throw new CuratorError('inference_failed', 'The classifier returned no result');
    return {
      value: { task, label: result.label, scores: result.scores, model: modelId },
      model: modelId,
      input: { tokens: result.tokens, limit: result.limit, truncated: result.truncated, originalTokens: result.originalTokens },
    };
  });
}

export interface GeneratedImages {
  images: Array<StoredObject & { seed: number }>;
  generation: ImageGeneration;
}

/** Denoises the prompt into images and stores them under `folder` (results name them by key). */
export async function imageStage(prompt: string, params: ImageParams, context: PipelineContext, cacheKey: unknown, folder: string): Promise<GeneratedImages> {
  const modelId = context.models.modelId('image');
  return context.job.stage(
    'image',
    {
      model: modelId,
      // Only a seeded request has one right answer worth reusing.
      ...(isDeterministicImage(params) ? { cacheKey } : {}),
      validateCached: async (value) => {
        const cached = value as GeneratedImages;
        return (await Promise.all(cached.images.map((image) => context.storage.exists(image.key, { signal: context.signal })))).every(Boolean);
      },
    },
    async (stage) => {
      const generated = await context.models.images().generate(
        {
          prompt,
          steps: params.steps,
          guidanceScale: params.guidanceScale,
          width: params.width,
          height: params.height,
          numImages: params.numImages,
          format: params.format,
          ...(params.negativePrompt ? { negativePrompt: params.negativePrompt } : {}),
          ...(params.seed === undefined ? {} : { seed: params.seed }),
          ...(params.scheduler ? { scheduler: params.scheduler } : {}),
        },
        { signal: context.signal, onProgress: (p) => stage.progress(p.step / Math.max(1, p.steps), `denoising step ${p.step}/${p.steps}`) },
      );
      context.metrics.denoisingSteps.inc({ model: modelId }, generated.steps * generated.images.length);
      const images = await Promise.all(
        generated.images.map(async (image, index) => {
          const key = `${folder}/image-${index}.${image.format === 'jpeg' ? 'jpg' : image.format}`;
          const stored = await context.storage.put(key, image.data, image.contentType, { seed: String(image.seed), model: modelId }, { signal: context.signal });
          return { key, contentType: image.contentType, width: image.width, height: image.height, bytes: stored.bytes, seed: image.seed };
        }),
      );
      const generation = {
        seed: generated.seed,
        scheduler: generated.scheduler as ImageGeneration['scheduler'],
        steps: generated.steps,
        guidanceScale: generated.guidanceScale,
        prompt,
        ...(params.negativePrompt ? { negativePrompt: params.negativePrompt } : {}),
        model: modelId,
      };
      return { value: { images, generation }, model: modelId, metrics: { steps: generated.steps, images: images.length } };
    },
  );
}

/** Sets the text on the picture and stores the card beside it; cards of the test models say so. */
export async function cardStage(image: StoredObject, text: string, context: PipelineContext, folder: string): Promise<StoredObject> {
  const badge = context.modelSet === 'test' ? 'test models' : undefined;
  const cache = {
    cacheKey: { image: image.key, text, badge },
    validateCached: (value: unknown) => context.storage.exists((value as StoredObject).key, { signal: context.signal }),
  };
  return context.job.stage('card', cache, async () => {
    const picture = await context.storage.get(image.key, { signal: context.signal });
    const card = await composeCard(picture, text, { format: 'png', ...(badge ? { badge } : {}) });
    const key = `${folder}/card.png`;
    const stored = await context.storage.put(key, card.data, card.contentType, { kind: 'card' }, { signal: context.signal });
    return {
      value: { key, contentType: card.contentType, width: card.width, height: card.height, bytes: stored.bytes },
      metrics: { lines: card.lines, bandHeight: card.bandHeight, ...(card.missingGlyphs ? { missingGlyphs: card.missingGlyphs } : {}) },
    };
  });
}

function textStageOutcome(result: TextResult, modelId: string): StageOutcome<string> {
  return {
    value: result.text,
    model: modelId,
    input: { tokens: result.inputTokens, limit: result.limit, truncated: result.truncated, originalTokens: result.originalTokens },
    metrics: { tokens: result.tokens, timeToFirstTokenMs: Math.round(result.timeToFirstTokenMs), tokensPerSecond: Math.round(result.tokensPerSecond * 10) / 10, batchSize: result.batchSize },
  };
}

export interface GeneratedText {
  text: string;
  sequences?: Array<{ text: string; score: number }>;
  tokens: number;
  model: string;
}

/** Summary or headline: generated with the stage's defaults under the job's parameters. */
export async function generateStage(stage: 'summarize' | 'headline', text: string, params: GenerationParams, context: PipelineContext): Promise<GeneratedText> {
  const role = stage === 'summarize' ? 'summarizer' : 'headline';
  const modelId = context.models.modelId(role);
  // Sampling without a seed has no single right answer to reuse.
  const cacheable = isDeterministicGeneration(params);
  // `output: 'whole'`: the cached value is the whole output (text, tokens, sequences), not the text alone as before.
  return context.job.stage(stage, { model: modelId, ...(cacheable ? { cacheKey: { text, params, output: 'whole' } } : {}) }, async (progress) => {
    const generator = context.models.textGenerator(role);
    const call = { signal: context.signal, onProgress: (p: { step: number; maxSteps: number }) => progress.progress(p.step / Math.max(1, p.maxSteps), `token ${p.step}`) };
    const full = stage === 'summarize' ? await generator.summarize(text, params, call) : await generator.headline(text, params, call);
    context.metrics.tokensGenerated.inc({ model: modelId }, full.tokens);
    context.metrics.timeToFirstToken.observe({ model: modelId }, full.timeToFirstTokenMs / 1000);
    if (full.tokensPerSecond > 0) context.metrics.tokensPerSecond.observe({ model: modelId }, full.tokensPerSecond);
    context.metrics.batchSize.observe({ model: modelId }, full.batchSize);
    const sequences = full.sequences.map((s) => ({ text: s.text, score: s.score }));
    // The whole output is the stage's value, so a cache hit returns the same tokens and sequences.
    const outcome = textStageOutcome(full, modelId);
    return { ...outcome, value: { text: full.text, ...(sequences.length > 1 ? { sequences } : {}), tokens: full.tokens, model: modelId } };
  });
}
