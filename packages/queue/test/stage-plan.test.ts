// Which stages a rerun reuses: decided from the same stage plan the worker's handlers run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobRequestSchema, type JobRequest, type Stage } from '@curator/contracts';
import { reusableStages, stageNames, stagePlan } from '../src/index.ts';

const curate = (params: Record<string, unknown> = {}, input: Record<string, unknown> = { text: 'The harbour reopened on Monday.' }): JobRequest =>
  jobRequestSchema.parse({ type: 'curate', input, params: { seed: 7, ...params } });
const succeeded = (request: JobRequest): Stage[] => stageNames(request).map((name) => ({ name, status: 'succeeded', durationMs: 1, cached: false }));

test("a new image prefix reuses the text stages; only the image and the card run again", () => {
  const original = curate();
  assert.deepEqual(reusableStages(original, succeeded(original), curate({ imagePrefix: 'Watercolour - ' })), ['extract', 'sentiment', 'summarize', 'headline']);
});

test('analysis: genre swaps the classification stage and reuses everything else, the picture included', () => {
  const original = curate();
  const genre = curate({ analysis: 'genre' });
  assert.deepEqual(stageNames(genre), ['extract', 'genre', 'summarize', 'headline', 'image', 'card']);
  assert.deepEqual(reusableStages(original, succeeded(original), genre), ['extract', 'summarize', 'headline', 'image', 'card']);
});

test('a change reaches every stage downstream of it, and nothing upstream', () => {
  const original = curate();
  // The summary feeds the picture's prompt, and the picture the card.
  assert.deepEqual(reusableStages(original, succeeded(original), curate({ summaryMaxTokens: 12 })), ['extract', 'sentiment', 'headline']);
  // The headline is on the card.
  assert.deepEqual(reusableStages(original, succeeded(original), curate({ headlineMaxTokens: 12 })), ['extract', 'sentiment', 'summarize', 'image']);
  // A new article: nothing is reused.
  assert.deepEqual(reusableStages(original, succeeded(original), curate({}, { text: 'Another story.' })), []);
  // The card's text only.
  assert.deepEqual(reusableStages(original, succeeded(original), curate({ cardText: 'title' })), ['extract', 'sentiment', 'summarize', 'headline', 'image']);
});

test('only stages with one right answer are reused: unseeded pictures and sampling without a seed run again', () => {
  const unseeded = curate({ seed: undefined });
  assert.deepEqual(reusableStages(unseeded, succeeded(unseeded), unseeded), ['extract', 'sentiment', 'summarize', 'headline']);
  const sampled = curate({ seed: undefined, temperature: 0.8 });
  assert.deepEqual(reusableStages(sampled, succeeded(sampled), sampled), ['extract', 'sentiment']);
});

test('a stage the original did not finish is not reused, nor anything after it', () => {
  const original = curate();
  const stages = succeeded(original).map((s) => (s.name === 'image' ? { ...s, status: 'failed' as const } : s));
  assert.deepEqual(reusableStages(original, stages, curate({ analysis: 'genre' })), ['extract', 'summarize', 'headline']);
});

test('every job type has a plan, and a URL article is extracted once per input like pasted text', () => {
  const classify = jobRequestSchema.parse({ type: 'classify', input: { url: 'https://example.com/a' } });
  assert.deepEqual(stageNames(classify), ['extract', 'sentiment']);
  const genre = jobRequestSchema.parse({ type: 'classify', input: { url: 'https://example.com/a' }, params: { task: 'genre' } });
  assert.deepEqual(reusableStages(classify, succeeded(classify), genre), ['extract']);
  const summary = jobRequestSchema.parse({ type: 'summarize', input: { text: 'x' }, params: { maxTokens: 10 } });
  assert.deepEqual(reusableStages(summary, succeeded(summary), jobRequestSchema.parse({ ...summary, params: { maxTokens: 11 } })), ['extract']);
  const picture = jobRequestSchema.parse({ type: 'text-to-image', input: { prompt: 'a harbour' }, params: { seed: 1 } });
  assert.deepEqual(stagePlan(picture).map((s) => s.name), ['image', 'card']);
  assert.deepEqual(reusableStages(picture, succeeded(picture), jobRequestSchema.parse({ ...picture, params: { seed: 1, steps: 30 } })), []);
});
