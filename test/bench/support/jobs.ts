// The jobs the system benches submit: each with its own article text, so no stage is answered from
// the stage cache, and small enough for the generated test models to finish in well under a second.

const articleText = (tag: string) =>
  `${tag}: The harbour reopened on Monday after a week of repairs, and fishermen returned to work at dawn. ` +
  'Officials said the new sea wall held well during the last storm, and that shops along the quay will reopen too.';

/**
 * curate's image at 64x64 with 2 steps: at the defaults (512x512, 25 steps) one curate takes 28-42 s on
 * the test models on 2 cores, all of it in the image stage, which would leave nothing else to measure.
 */
export const benchImage = { width: 64, height: 64, steps: 2 } as const;

export const benchJobs = {
  classify: (n: number, tag: string) => ({ type: 'classify', input: { text: articleText(`${tag} ${n}`) } }),
  summarize: (n: number, tag: string) => ({ type: 'summarize', input: { text: articleText(`${tag} ${n}`) }, params: { maxTokens: 8 } }),
  headline: (n: number, tag: string) => ({ type: 'headline', input: { text: articleText(`${tag} ${n}`) }, params: { maxTokens: 8 } }),
  curate: (n: number, tag: string) => ({ type: 'curate', input: { text: articleText(`${tag} ${n}`), title: `Harbour ${tag} ${n}` }, params: { seed: n, summaryMaxTokens: 8, headlineMaxTokens: 8, image: benchImage } }),
  'text-to-image': (n: number, tag: string) => ({ type: 'text-to-image', input: { prompt: `a harbour at dawn, ${tag} ${n}` }, params: { ...benchImage, seed: n } }),
} as const;

export type BenchJobType = keyof typeof benchJobs;
