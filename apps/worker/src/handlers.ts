import type { ModelSet } from '@curator/contracts';
import type { ObjectStorage } from '@curator/storage';
import type { WorkerMetrics } from '@curator/telemetry';
import { curateHeadlineGeneration, curateImageParams, curateImagePrompt, curateSummaryGeneration, stageNames, type JobContext, type StageHandlers } from '@curator/queue';
import { contentPolicyError, generatedContent, type ContentCheck } from '@curator/access';
import type { ModelHost } from './model-host.ts';
import { articleStage, cardStage, classifyStage, generateStage, imageStage, type PipelineContext } from './pipelines.ts';

export interface HandlerDependencies {
  models: ModelHost;
  modelSet: ModelSet;
  storage: ObjectStorage;
  metrics: WorkerMetrics;
  articles: PipelineContext['articles'];
  /** The content policy for the jobs of an owner (an API key id; null: the deployment's alone). */
  contentPolicy: (owner: string | null) => Promise<ContentCheck>;
}

/**
 * The stage handler of every job type this worker runs, on its models, storage and metrics. Each
 * job's stages and the parameters each stage depends on are `stagePlan`'s (@curator/queue): the
 * gateway reads the same plan to tell which stages a rerun reuses from the stage cache.
 */
export function createHandlers(deps: HandlerDependencies): StageHandlers {
  const pipeline = (job: JobContext): PipelineContext => ({ ...deps, job, signal: job.signal });
  const models = deps.modelSet;
  return {
    classify: {
      stages: stageNames,
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await classifyStage(article.text, request.params.task, context)), models };
      },
    },

    summarize: {
      stages: stageNames,
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await generateStage('summarize', article.text, request.params, context)), models };
      },
    },

    headline: {
      stages: stageNames,
      async run(request, job) {
        const context = pipeline(job);
        const article = await articleStage(request.input, context);
        return { ...(await generateStage('headline', article.text, request.params, context)), models };
      },
    },

    /** Alone, or as a curate job's image stages (then with the card, stored in the curate job's folder). */
    'text-to-image': {
      stages: stageNames,
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
      stages: stageNames,
      async run(request, job) {
        const context = pipeline(job);
        const params = request.params;
        const text = await job.checkpoint('text', async () => {
          const article = await articleStage(request.input, context);
          const analysis = await classifyStage(article.text, params.analysis, context);
          const summary = await generateStage('summarize', article.text, curateSummaryGeneration(params), context);
          const headline = await generateStage('headline', article.text, curateHeadlineGeneration(params), context);
          return { title: article.title, summary: summary.text, headline: headline.text, analysis };
        });
        // The article's own title when asked for and there is one; the generated headline otherwise.
        const cardText = params.cardText === 'title' && text.title ? text.title : text.headline;
        // Generated text passes the content policy before any image is drawn from it.
        const violation = (await deps.contentPolicy(job.owner)).check(generatedContent({ ...text, cardText }));
        if (violation) throw contentPolicyError(violation, `The content policy refuses the generated ${violation.path}: no image was generated`);
        const images = await job.runChild({ type: 'text-to-image', input: { prompt: curateImagePrompt(params, text.summary) }, params: curateImageParams(params) }, { card: { text: cardText } });
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
