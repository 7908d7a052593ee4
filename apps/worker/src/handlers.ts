import { imageParamsSchema, type CurateParams, type GenerationParams, type ModelSet } from '@curator/contracts';
import type { ObjectStorage } from '@curator/storage';
import type { WorkerMetrics } from '@curator/telemetry';
import type { FetchOptions } from '@curator/articles';
import type { JobContext, StageHandlers } from '@curator/queue';
import type { ModelHost } from './model-host.ts';
import { articleStage, cardStage, classifyStage, generateStage, imageStage, type PipelineContext } from './pipelines.ts';

export interface HandlerDependencies {
  models: ModelHost;
  modelSet: ModelSet;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  fetchOptions: FetchOptions;
}

const imageDefaults = imageParamsSchema.parse({});

/** The reference tutorial's knobs mapped onto the generators: temperature 0 searches, above 0 samples. */
function curateGeneration(params: CurateParams, maxTokens: number, noRepeat?: number): GenerationParams {
  return {
    maxTokens,
    ...(noRepeat === undefined ? {} : { noRepeatNgramSize: noRepeat }),
    ...(params.temperature > 0 ? { doSample: true, temperature: params.temperature } : {}),
    ...(params.seed === undefined ? {} : { seed: params.seed }),
  };
}

/** The stage handler of every job type this worker runs, on its models, storage and metrics. */
export function createHandlers(deps: HandlerDependencies): StageHandlers {
  const pipeline = (job: JobContext): PipelineContext => ({ ...deps, job, signal: job.signal });
  const models = deps.modelSet;
  return {
    classify: {
      stages: (request) => ['extract', request.params.task],
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await classifyStage(article.text, request.params.task, context)), models };
      },
    },

    summarize: {
      stages: () => ['extract', 'summarize'],
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await generateStage('summarize', article.text, request.params, context)), models };
      },
    },

    headline: {
      stages: () => ['extract', 'headline'],
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await generateStage('headline', article.text, request.params, context)), models };
      },
    },

    /** Alone, or as a curate job's image stages (then with the card, stored in the curate job's folder). */
    'text-to-image': {
      stages: () => ['image', 'card'],
      async run(request, job) {
        const context = pipeline(job);
        const folder = `jobs/${job.parent?.id ?? job.id}`;
        const generated = await imageStage(request.input.prompt, request.params, context, { prompt: request.input.prompt, params: request.params }, folder);
        const cardText = job.parent?.card?.text;
        if (!cardText) {
          job.skip('card');
          return { ...generated, models };
        }
        const card = await cardStage(generated.images[0]!, cardText, context, folder);
        return { ...generated, card, models };
      },
    },

    /**
     * The whole card. Text stages run here (text pool); the image and the card run as a child job
     * in the image pool, so image workers scale apart from text workers. While the child runs this
     * job waits without holding a worker slot, then finishes with the child's result.
     */
    curate: {
      stages: (request) => ['extract', request.params.analysis, 'summarize', 'headline', 'image', 'card'],
      async run(request, job) {
        const context = pipeline(job);
        const params = request.params;
        const text = await job.checkpoint('text', async () => {
          const article = await articleStage(request.input, context);
          const analysis = await classifyStage(article.text, params.analysis, context);
          const summary = await generateStage('summarize', article.text, curateGeneration(params, params.summaryMaxTokens), context);
          const headline = await generateStage('headline', article.text, curateGeneration(params, params.headlineMaxTokens, params.noRepeatNgramSize), context);
          return { title: article.title, summary: summary.text, headline: headline.text, analysis };
        });
        // The article's own title when asked for and there is one; the generated headline otherwise.
        const cardText = params.cardText === 'title' && text.title ? text.title : text.headline;
        const imageParams = imageParamsSchema.parse({ ...imageDefaults, ...params.image, ...(params.seed === undefined ? {} : { seed: params.image?.seed ?? params.seed }) });
        const prompt = `${params.imagePrefix}${text.summary}`.trim();
        const images = await job.runChild({ type: 'text-to-image', input: { prompt }, params: imageParams }, { card: { text: cardText } });
        return {
          ...text,
          cardText,
          // The contract requires the card: a child without one fails this job as internal_error.
          image: { image: images.images[0]!, card: images.card!, generation: images.generation },
          models,
        };
      },
    },
  };
}
