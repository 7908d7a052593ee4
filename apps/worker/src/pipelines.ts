import { CuratorError, imageParamsSchema, type JobRequest, type JobRequestOf, type ArticleInput, type Classification, type ImageParams, type GenerationParams, type CurateParams } from '@curator/contracts';
import type { ObjectStorage } from '@curator/storage';
import type { WorkerMetrics } from '@curator/telemetry';
import { resolveArticle, type FetchOptions, type ResolvedArticle } from '@curator/articles';
import { WaitingChildrenError, type Job } from 'bullmq';
import { composeCard } from '@curator/card';
import type { TextResult } from '@curator/textgen';
import type { JobData, JobReturn } from '@curator/queue';
import type { StageTracker, StageOutcome } from './stage-tracker.ts';
import type { ModelHost } from './model-host.ts';

export interface PipelineContext {
  jobId: string;
  job: Job<JobData, JobReturn>;
  token: string | undefined;
  /** Queues a curate job's image stages in the image pool as a child of `job`. */
  enqueueImageStages(data: JobData, childId: string): Promise<void>;
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
    const article = await resolveArticle(input, { fetch: context.fetchOptions, signal: context.signal });
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
export async function imageStage(prompt: string, params: ImageParams, context: PipelineContext, cacheKey: unknown, folder: string): Promise<GeneratedImages> {
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
          const key = `${folder}/image-${index}.${image.format === 'jpeg' ? 'jpg' : image.format}`;
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

/** Sets the headline on the picture and stores the card beside it. */
export async function cardStage(image: StoredImageRef, headline: string, context: PipelineContext, keyPrefix: string): Promise<StoredImageRef> {
  const cache = {
    cacheKey: { image: image.key, headline },
    validateCached: (value: unknown) => context.storage.exists((value as StoredImageRef).key),
  };
  return context.tracker.run('card', cache, async () => {
    const picture = await context.storage.get(image.key);
    const card = await composeCard(picture, headline, { format: 'png' });
    const key = `${keyPrefix}/card.png`;
    const stored = await context.storage.put(key, card.data, card.contentType, { kind: 'card' });
    return { value: { key, contentType: card.contentType, width: card.width, height: card.height, bytes: stored.bytes }, metrics: { lines: card.lines, bandHeight: card.bandHeight } };
  });
}

export interface ImageStagesResult extends GeneratedImages {
  card?: StoredImageRef;
}

const textToImage: Pipeline<'text-to-image'> = {
  stages: () => ['image', 'card'],
  async run(request, context) {
    const data = context.job.data;
    // A curate job's image stages store under the curate job's folder, so its objects sit together.
    const folder = `jobs/${data.parentId ?? context.jobId}`;
    const generated = await imageStage(request.input.prompt, request.params, context, { prompt: request.input.prompt, params: request.params }, folder);
    if (!data.card) {
      context.tracker.skip('card');
      return generated;
    }
    const card = await cardStage(generated.images[0]!, data.card.headline, context, folder);
    return { ...generated, card } satisfies ImageStagesResult;
  },
};

function textStageOutcome(result: TextResult, modelId: string): StageOutcome<string> {
  return {
    value: result.text,
    model: modelId,
    input: { tokens: result.inputTokens, limit: result.limit, truncated: result.truncated, originalTokens: result.originalTokens },
    metrics: { tokens: result.tokens, timeToFirstTokenMs: Math.round(result.timeToFirstTokenMs), tokensPerSecond: Math.round(result.tokensPerSecond * 10) / 10, batchSize: result.batchSize },
  };
}

/** Summary or headline: generated with the stage's defaults under the job's parameters. */
export async function generateStage(stage: 'summarize' | 'headline', text: string, params: GenerationParams, context: PipelineContext): Promise<{ text: string; result?: TextResult }> {
  const role = stage === 'summarize' ? 'summarizer' : 'headline';
  const modelId = context.models.modelId(role);
  let full: TextResult | undefined;
  // Sampling without a seed has no single right answer to reuse.
  const cacheable = !params.doSample || params.seed !== undefined;
  const value = await context.tracker.run(stage, { model: modelId, ...(cacheable ? { cacheKey: { text, params } } : {}) }, async (progress) => {
    const generator = context.models.textGenerator(role);
    const call = { signal: context.signal, onProgress: (p: { step: number; maxSteps: number }) => progress.progress(p.step / Math.max(1, p.maxSteps), `token ${p.step}`) };
    full = stage === 'summarize' ? await generator.summarize(text, params, call) : await generator.headline(text, params, call);
    context.metrics.tokensGenerated.inc({ model: modelId }, full.tokens);
    context.metrics.timeToFirstToken.observe({ model: modelId }, full.timeToFirstTokenMs / 1000);
    if (full.tokensPerSecond > 0) context.metrics.tokensPerSecond.observe({ model: modelId }, full.tokensPerSecond);
    context.metrics.batchSize.observe({ model: modelId }, full.batchSize);
    return textStageOutcome(full, modelId);
  });
  return full ? { text: value, result: full } : { text: value };
}

function generatedText(stage: 'summarize' | 'headline', out: { text: string; result?: TextResult }, context: PipelineContext) {
  const model = context.models.modelId(stage === 'summarize' ? 'summarizer' : 'headline');
  const sequences = out.result?.sequences.map((s) => ({ text: s.text, score: s.score }));
  return { text: out.text, ...(sequences && sequences.length > 1 ? { sequences } : {}), tokens: out.result?.tokens ?? 0, model };
}

const summarize: Pipeline<'summarize'> = {
  stages: () => ['extract', 'summarize'],
  async run(request, context) {
    const article = await articleStage(request.input, context);
    return generatedText('summarize', await generateStage('summarize', article.text, request.params, context), context);
  },
};

const headline: Pipeline<'headline'> = {
  stages: () => ['extract', 'headline'],
  async run(request, context) {
    const article = await articleStage(request.input, context);
    return generatedText('headline', await generateStage('headline', article.text, request.params, context), context);
  },
};

interface CurateText {
  title: string | null;
  summary: string;
  headline: string;
  analysis: Classification;
}

/** The reference tutorial's knobs mapped onto the generators: temperature 0 searches, above 0 samples. */
function curateGeneration(params: CurateParams, maxTokens: number, noRepeat?: number): GenerationParams {
  return {
    maxTokens,
    ...(noRepeat === undefined ? {} : { noRepeatNgramSize: noRepeat }),
    ...(params.temperature > 0 ? { doSample: true, temperature: params.temperature } : {}),
    ...(params.seed === undefined ? {} : { seed: params.seed }),
  };
}

/**
 * The whole card. Text stages run here (text pool); the image and the card run as a child job in
 * the image pool, so image workers scale apart from text workers. While the child runs, this job
 * waits for it without holding a worker slot, then picks up where it stopped.
 */
const curate: Pipeline<'curate'> = {
  stages: (request) => ['extract', request.params.analysis, 'summarize', 'headline', 'image', 'card'],
  async run(request, context) {
    const { job, tracker } = context;
    const params = request.params;
    const childId = `${context.jobId}-image`;
    let text: CurateText;
    if (job.data.textStages) {
      text = job.data.textStages.value as CurateText;
      for (const saved of job.data.textStages.stages) {
        const stage = tracker.stages.find((s) => s.name === saved.name);
        if (stage && saved.status === 'succeeded') Object.assign(stage, saved);
      }
    } else {
      const article = await articleStage(request.input, context);
      const analysis = await classifyStage(article.text, params.analysis, context);
      const summary = await generateStage('summarize', article.text, curateGeneration(params, params.summaryMaxTokens), context);
      const headlineOut = await generateStage('headline', article.text, curateGeneration(params, params.headlineMaxTokens, params.noRepeatNgramSize), context);
      text = { title: article.title, summary: summary.text, headline: headlineOut.text, analysis };
    }

    const children = await job.getChildrenValues<JobReturn>();
    const child = Object.entries(children).find(([key]) => key.endsWith(`:${childId}`))?.[1];
    if (!child) {
      const imageParams = { ...imageDefaults, ...params.image, ...(params.seed === undefined ? {} : { seed: params.image?.seed ?? params.seed }) };
      const prompt = `${params.imagePrefix}${text.summary}`.trim();
      const textStages = { value: text, stages: tracker.stages.filter((s) => s.status === 'succeeded').map((s) => ({ ...s })) };
      await job.updateData({ ...job.data, textStages });
      await context.enqueueImageStages(
        { request: { type: 'text-to-image', input: { prompt }, params: imageParamsSchema.parse(imageParams) }, submittedAt: new Date().toISOString(), parentId: context.jobId, card: { headline: text.headline } },
        childId,
      );
      await tracker.markWaiting('image', 'waiting for an image worker');
      if (await job.moveToWaitingChildren(context.token!)) throw new WaitingChildrenError();
      // The child finished between being added and the move: read its value now.
      return curate.run(request, context);
    }
    const images = child.result as ImageStagesResult;
    const image = images.images[0]!;
    const card = images.card!;
    // The image pool's own timings and cache hits become this job's.
    for (const name of ['image', 'card']) {
      const stage = child.stages.find((s) => s.name === name);
      if (stage) tracker.restore(name, { ...stage });
    }
    return {
      title: text.title,
      summary: text.summary,
      headline: text.headline,
      analysis: text.analysis,
      image: { image, card, generation: images.generation },
    };
  },
};

const imageDefaults = imageParamsSchema.parse({});

export const pipelines: { [T in JobRequest['type']]?: Pipeline<T> } = { classify, summarize, headline, curate, 'text-to-image': textToImage };

export function pipelineFor<T extends JobRequest['type']>(type: T): Pipeline<T> {
  const pipeline = pipelines[type] as Pipeline<T> | undefined;
  if (!pipeline) throw new CuratorError('not_implemented', `This worker cannot run ${type} jobs`);
  return pipeline;
}
