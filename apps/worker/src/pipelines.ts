import { CuratorError, type JobRequest, type JobRequestOf, type ArticleInput, type Classification } from '@curator/contracts';
import { resolveArticle, type FetchOptions, type ResolvedArticle } from '@curator/articles';
import type { StageTracker } from './stage-tracker.ts';
import type { ModelHost } from './model-host.ts';

export interface PipelineContext {
  tracker: StageTracker;
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

export const pipelines: { [T in JobRequest['type']]?: Pipeline<T> } = { classify };

export function pipelineFor<T extends JobRequest['type']>(type: T): Pipeline<T> {
  const pipeline = pipelines[type] as Pipeline<T> | undefined;
  if (!pipeline) throw new CuratorError('not_implemented', `This worker cannot run ${type} jobs`);
  return pipeline;
}
