// Examples of the API's bodies, attached to their schemas' metadata so that the OpenAPI document
// (derived from these schemas) shows them. Each is checked against its own schema by the contracts'
// tests, and the request examples are submitted to a real gateway by its OpenAPI test: an example
// that stops being true fails a test.
import { z } from 'zod';
import { errorBodySchema } from './errors.ts';
import {
  batchRequestSchema,
  classifyRequestSchema,
  classifyResultSchema,
  curateRequestSchema,
  curateResultSchema,
  headlineRequestSchema,
  headlineResultSchema,
  jobAcceptedSchema,
  summarizeRequestSchema,
  summarizeResultSchema,
  textToImageRequestSchema,
  textToImageResultSchema,
} from './jobs.ts';
import { feedbackRequestSchema, rerunAcceptedSchema, rerunRequestSchema } from './api.ts';

export interface SchemaExamples {
  /** The schema's OpenAPI name (its `id`). */
  name: string;
  schema: z.ZodType;
  /** `request`: written by clients (defaults may be left out); `response`: as the API sends it. */
  direction: 'request' | 'response';
  examples: readonly unknown[];
}

export const schemaExamples: SchemaExamples[] = [];

/** Adds `examples` to the schema's metadata (kept with its id, title and description). */
function attach(direction: SchemaExamples['direction'], schema: z.ZodType, examples: readonly unknown[]): void {
  const meta = z.globalRegistry.get(schema) ?? {};
  z.globalRegistry.add(schema, { ...meta, examples: [...examples] });
  schemaExamples.push({ name: String(meta.id ?? 'unnamed'), schema, direction, examples });
}
const request = <S extends z.ZodType>(schema: S, examples: ReadonlyArray<z.input<S>>) => attach('request', schema, examples);
const response = <S extends z.ZodType>(schema: S, examples: ReadonlyArray<z.output<S>>) => attach('response', schema, examples);

const jobId = '5d8f0c2e-7b1a-4c4e-9a51-2f0b8e6c3d17';
const rerunId = 'a3c1e9f4-60d2-4b8e-8f3a-9d7e1c5b2a06';
const presigned = (key: string) =>
  `https://s3.example.com/curator/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=0f3c`;
const expiresAt = '2026-01-01T13:00:00.000Z';
const article = 'Fishermen returned to the harbour at dawn as repairs to the old sea wall ended. Shops on the quay reopened and the ferry ran again.';

// ---------- requests ----------

request(curateRequestSchema, [
  {
    type: 'curate',
    input: { url: 'https://example.com/news/harbour-reopens', title: 'Harbour reopens after the storm' },
    params: { imagePrefix: 'Impressionist image - ', analysis: 'sentiment', cardText: 'title', seed: 42, image: { steps: 25, guidanceScale: 7.5 } },
  },
  { type: 'curate', input: { text: article }, params: { analysis: 'genre', summaryMaxTokens: 40, headlineMaxTokens: 20 }, deadline: '2030-01-01T12:05:00Z', ttlSeconds: 3600 },
]);
request(classifyRequestSchema, [
  { type: 'classify', input: { text: 'I love this!' } },
  { type: 'classify', input: { url: 'https://example.com/sport/cup-final' }, params: { task: 'genre' } },
]);
request(summarizeRequestSchema, [{ type: 'summarize', input: { text: article }, params: { maxTokens: 60, numBeams: 4, noRepeatNgramSize: 3, lengthPenalty: 2 } }]);
request(headlineRequestSchema, [{ type: 'headline', input: { url: 'https://example.com/news/harbour-reopens' }, params: { maxTokens: 20, numBeams: 4, numReturnSequences: 2 } }]);
request(textToImageRequestSchema, [
  {
    type: 'text-to-image',
    input: { prompt: 'Impressionist image - fishing boats in a harbour at dawn' },
    params: { steps: 25, guidanceScale: 7.5, width: 512, height: 512, seed: 7, scheduler: 'euler', negativePrompt: 'text, watermark' },
    webhook: { url: 'https://hooks.example.com/curator', events: ['completed'] },
  },
]);
request(batchRequestSchema, [
  {
    jobs: [
      { type: 'classify', input: { text: 'I love this!' } },
      { type: 'classify', input: { text: 'The match ended in a draw after extra time.' }, params: { task: 'genre' } },
    ],
  },
]);
request(rerunRequestSchema, [{ params: { imagePrefix: 'Watercolour sketch - ' } }, { params: { analysis: 'genre' } }, { params: { image: { steps: 40, seed: 7 } } }]);
request(feedbackRequestSchema, [{ rating: 4, field: 'headline', comment: 'Good headline; the picture misses the point.' }, { rating: 2 }]);

// ---------- responses ----------

response(jobAcceptedSchema, [{ id: jobId, type: 'curate', status: 'queued', links: { self: `/jobs/${jobId}`, events: `/jobs/${jobId}/events` } }]);
response(rerunAcceptedSchema, [
  { id: rerunId, type: 'curate', status: 'queued', links: { self: `/jobs/${rerunId}`, events: `/jobs/${rerunId}/events` }, rerunOf: jobId, reusedStages: ['extract', 'sentiment', 'summarize', 'headline'] },
]);
response(errorBodySchema, [
  { error: { code: 'validation_failed', message: 'Invalid params.summaryMaxTokens: Too big: expected number to be <=200', details: [{ path: 'params.summaryMaxTokens', message: 'Too big: expected number to be <=200' }] } },
  { error: { code: 'job_not_found', message: `No job ${jobId}`, details: [{ path: 'id', message: 'unknown job id' }] } },
]);

const generation = { seed: 42, scheduler: 'pndm', steps: 25, guidanceScale: 7.5, prompt: 'Impressionist image - Harbour reopens after the storm', model: 'OFA-Sys/small-stable-diffusion-v0' } as const;
response(curateResultSchema, [
  {
    title: 'Harbour reopens after the storm',
    summary: 'Repairs to the sea wall are finished and the harbour, its shops and the ferry are working again.',
    headline: 'Harbour back in business as sea wall repairs end',
    cardText: 'Harbour reopens after the storm',
    analysis: { task: 'sentiment', label: 'positive', scores: { negative: 0.04, neutral: 0.21, positive: 0.75 }, model: 'finiteautomata/bertweet-base-sentiment-analysis' },
    image: {
      url: presigned(`jobs/${jobId}/image-0.png`),
      cardUrl: presigned(`jobs/${jobId}/card.png`),
      image: { key: `jobs/${jobId}/image-0.png`, url: presigned(`jobs/${jobId}/image-0.png`), expiresAt, contentType: 'image/png', width: 512, height: 512, bytes: 412_345, seed: 42 },
      card: { key: `jobs/${jobId}/card.png`, url: presigned(`jobs/${jobId}/card.png`), expiresAt, contentType: 'image/png', width: 512, height: 640, bytes: 455_120 },
      generation,
    },
    models: 'real',
  },
]);
response(classifyResultSchema, [{ task: 'sentiment', label: 'positive', scores: { negative: 0.02, neutral: 0.07, positive: 0.91 }, model: 'finiteautomata/bertweet-base-sentiment-analysis', models: 'real' }]);
response(summarizeResultSchema, [{ text: 'Repairs to the sea wall are finished and the harbour, its shops and the ferry are working again.', tokens: 23, model: 'google-t5/t5-small', models: 'real' }]);
response(headlineResultSchema, [
  {
    text: 'Harbour back in business as sea wall repairs end',
    sequences: [
      { text: 'Harbour back in business as sea wall repairs end', score: -0.41 },
      { text: 'Sea wall repaired, harbour reopens', score: -0.58 },
    ],
    tokens: 12,
    model: 'JulesBelveze/t5-small-headline-generator',
    models: 'real',
  },
]);
response(textToImageResultSchema, [
  {
    images: [{ key: `jobs/${jobId}/image-0.png`, url: presigned(`jobs/${jobId}/image-0.png`), expiresAt, contentType: 'image/png', width: 512, height: 512, bytes: 401_877, seed: 7 }],
    generation: { ...generation, seed: 7, scheduler: 'euler', prompt: 'Impressionist image - fishing boats in a harbour at dawn', negativePrompt: 'text, watermark' },
    models: 'real',
  },
]);
