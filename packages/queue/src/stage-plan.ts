import { imageParamsSchema, type CurateParams, type GenerationParams, type ImageParams, type JobRequest, type Stage } from '@curator/contracts';
import { stableStringify } from './stage-tracker.ts';

/**
 * One stage of a job as its request decides it: what it reads and which parameters decide its
 * output. The worker's handlers run the stages in this order and build their cache keys from the
 * same values (the upstream outputs plus `inputs`), so the gateway can tell before a rerun which
 * stages the content-addressed stage cache will answer.
 */
export interface PlannedStage {
  name: string;
  /** Stages whose output this one reads. */
  after: readonly string[];
  /** Besides the upstream outputs, what decides the stage's output (what its cache key holds). */
  inputs: unknown;
  /** Whether the output is cached: only a stage with one right answer for its inputs is. */
  cacheable: boolean;
}

/** Sampling without a seed has no single right answer worth keeping; search and seeded sampling do. */
export function isDeterministicGeneration(params: GenerationParams): boolean {
  return !params.doSample || params.seed !== undefined;
}

/** Only a seeded image request has one right answer. */
export function isDeterministicImage(params: Pick<ImageParams, 'seed'>): boolean {
  return params.seed !== undefined;
}

/** The reference tutorial's knobs mapped onto the generators: temperature 0 searches, above 0 samples. */
export function curateGeneration(params: CurateParams, maxTokens: number, noRepeat?: number): GenerationParams {
  return {
    maxTokens,
    ...(noRepeat === undefined ? {} : { noRepeatNgramSize: noRepeat }),
    ...(params.temperature > 0 ? { doSample: true, temperature: params.temperature } : {}),
    ...(params.seed === undefined ? {} : { seed: params.seed }),
  };
}

export const curateSummaryGeneration = (params: CurateParams) => curateGeneration(params, params.summaryMaxTokens);
export const curateHeadlineGeneration = (params: CurateParams) => curateGeneration(params, params.headlineMaxTokens, params.noRepeatNgramSize);

const imageDefaults = imageParamsSchema.parse({});

/** A curate job's picture: the image defaults under its `image` knobs, seeded by `image.seed` or else `seed`. */
export function curateImageParams(params: CurateParams): ImageParams {
  const seed = params.image?.seed ?? params.seed;
  return imageParamsSchema.parse({ ...imageDefaults, ...params.image, ...(seed === undefined ? {} : { seed }) });
}

/** A curate job's image prompt: its prefix before the summary. */
export function curateImagePrompt(params: CurateParams, summary: string): string {
  return `${params.imagePrefix}${summary}`.trim();
}

const extract = (request: { input: unknown }): PlannedStage => ({ name: 'extract', after: [], inputs: { input: request.input }, cacheable: true });

/** The stages of a job, in the order they run. */
export function stagePlan(request: JobRequest): PlannedStage[] {
  switch (request.type) {
    case 'classify':
      return [extract(request), { name: request.params.task, after: ['extract'], inputs: {}, cacheable: true }];
    case 'summarize':
    case 'headline':
      return [extract(request), { name: request.type, after: ['extract'], inputs: request.params, cacheable: isDeterministicGeneration(request.params) }];
    case 'text-to-image':
      return [
        { name: 'image', after: [], inputs: { prompt: request.input.prompt, params: request.params }, cacheable: isDeterministicImage(request.params) },
        // Only a curate job's image stages make a card (the standalone job skips it).
        { name: 'card', after: ['image'], inputs: {}, cacheable: true },
      ];
    case 'curate': {
      const { params } = request;
      const image = curateImageParams(params);
      const summary = curateSummaryGeneration(params);
      const headline = curateHeadlineGeneration(params);
      return [
        extract(request),
        { name: params.analysis, after: ['extract'], inputs: {}, cacheable: true },
        { name: 'summarize', after: ['extract'], inputs: summary, cacheable: isDeterministicGeneration(summary) },
        { name: 'headline', after: ['extract'], inputs: headline, cacheable: isDeterministicGeneration(headline) },
        { name: 'image', after: ['summarize'], inputs: { imagePrefix: params.imagePrefix, params: image }, cacheable: isDeterministicImage(image) },
        // The card shows the headline, or the article's title (given or extracted) when asked and there is one.
        { name: 'card', after: params.cardText === 'title' ? ['image', 'extract', 'headline'] : ['image', 'headline'], inputs: { cardText: params.cardText }, cacheable: true },
      ];
    }
  }
}

/** The names of a job's stages, in order: what its handler declares. */
export function stageNames(request: JobRequest): string[] {
  return stagePlan(request).map((stage) => stage.name);
}

/**
 * The stages of `next` the stage cache answers because `original` (whose stages ran as
 * `originalStages`) computed them from the same inputs: each is cacheable, finished in the
 * original, has the same parameters, and reads only stages that are reused too.
 */
export function reusableStages(original: JobRequest, originalStages: readonly Stage[], next: JobRequest): string[] {
  const before = new Map(stagePlan(original).map((stage) => [stage.name, stage]));
  const finished = new Set(originalStages.filter((stage) => stage.status === 'succeeded').map((stage) => stage.name));
  const reused = new Set<string>();
  for (const stage of stagePlan(next)) {
    const old = before.get(stage.name);
    if (!old || !old.cacheable || !stage.cacheable || !finished.has(stage.name)) continue;
    if (stableStringify(old.after) !== stableStringify(stage.after) || stableStringify(old.inputs) !== stableStringify(stage.inputs)) continue;
    if (stage.after.every((name) => reused.has(name))) reused.add(stage.name);
  }
  return [...reused];
}
