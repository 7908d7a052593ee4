import { CuratorError, type JobRequest, type JobRequestOf, type ArticleInput, type Classification, type ImageParams } from '@curator/contracts';
import type { ObjectStorage } from '@curator/storage';
import type { WorkerMetrics } from '@curator/telemetry';
import { resolveArticle, type FetchOptions, type ResolvedArticle } from '@curator/articles';
import type { StageTracker } from './stage-tracker.ts';
import type { ModelHost } from './model-host.ts';

export interface PipelineContext {
  jobId: string;
  tracker: StageTracker;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  models: ModelHost;
  fetchOptions: FetchOptions;
  signal: AbortSignal;
}

export interface Pipeline<T extends JobRequest['type']> {
  stages(request: JobRequestOf<T>): string[];
  run(request: JobRequestOf<T>, context: PipelineContext): Promise<unknown>;
}

/** First stage of every article job: the text as given (normalized), or fetched and extracted. */
export function articleStage(input: ArticleInput, context: PipelineContext): Promise<ResolvedArticle> {
  return context.tracker.run('extract', {}, async () => {
    const article = await resolveArticle(input, context.fetchOptions);
    return { value: article, metrics: { characters: article.text.length } };
  });
}

export async function classifyStage(text: string, task: 'sentiment' | 'genre', context: PipelineContext): Promise<Classification> {
  const modelId = context.models.modelId(task);
  return context.tracker.run(task, { model: modelId, cacheKey: { text } }, async () => {
    const [result] = await context.models.classifier(task).classify([text], { signal: context.signal });
    if (!result) throw new CuratorError('inference_failed', 'The classifier returned no result');
    return {
      value: { task, label: result.label, scores: result.scores, model: modelId },
      model: modelId,
      input: { tokens: result.tokens, limit: result.limit, truncated: result.truncated, originalTokens: result.originalTokens },
    };
  });
}

const classify: Pipeline<'classify'> = {
  stages: (request) => ['extract', request.params.task],
  async run(request, context) {
    const article = await articleStage(request.input, context);
    return classifyStage(article.text, request.params.task, context);
  },
};

/** An image as a result names it by its object key; the gateway mints a fresh URL on every read. */
export interface StoredImageRef {
  key: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
}

export interface GeneratedImages {
  images: Array<StoredImageRef & { seed: number }>;
  generation: { seed: number; scheduler: string; steps: number; guidanceScale: number; prompt: string; negativePrompt?: string; model: string };
}

/** Denoises the prompt into images and stores them under `jobs/<id>/`. */
export async function imageStage(prompt: string, params: ImageParams, context: PipelineContext, cacheKey: unknown): Promise<GeneratedImages> {
  const modelId = context.models.modelId('image');
  return context.tracker.run(
    'image',
    {
      model: modelId,
      // Only a seeded request has one right answer worth reusing.
      ...(params.seed === undefined ? {} : { cacheKey }),
      validateCached: async (value) => {
        const cached = value as GeneratedImages;
        return (await Promise.all(cached.images.map((image) => context.storage.exists(image.key)))).every(Boolean);
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
          const key = `jobs/${context.jobId}/image-${index}.${image.format === 'jpeg' ? 'jpg' : image.format}`;
          const stored = await context.storage.put(key, image.data, image.contentType, { seed: String(image.seed), model: modelId });
          return { key, contentType: image.contentType, width: image.width, height: image.height, bytes: stored.bytes, seed: image.seed };
        }),
      );
      const generation = {
        seed: generated.seed,
        scheduler: generated.scheduler,
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

const textToImage: Pipeline<'text-to-image'> = {
  stages: () => ['image'],
  run(request, context) {
    return imageStage(request.input.prompt, request.params, context, { prompt: request.input.prompt, params: request.params });
  },
};

export const pipelines: { [T in JobRequest['type']]?: Pipeline<T> } = { classify, 'text-to-image': textToImage };

export function pipelineFor<T extends JobRequest['type']>(type: T): Pipeline<T> {
  const pipeline = pipelines[type] as Pipeline<T> | undefined;
  if (!pipeline) throw new CuratorError('not_implemented', `This worker cannot run ${type} jobs`);
  return pipeline;
}
