import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CuratorError, errorCodes, jobRequestSchema, jobViewSchema, submitRequestSchema, storedResultSchemas, parseOrThrow } from '../src/index.ts';

const paths = (value: unknown) => {
  try {
    parseOrThrow(jobRequestSchema, value);
    return [];
  } catch (error) {
    return (error as CuratorError).details?.map((d) => d.path) ?? [];
  }
};

test('a curate request gets the reference knobs as bounded defaults', () => {
  const request = jobRequestSchema.parse({ type: 'curate', input: { url: 'https://example.com/a' } });
  assert.deepEqual(request.params, { imagePrefix: 'Impressionist image - ', summaryMaxTokens: 30, headlineMaxTokens: 84, temperature: 0, noRepeatNgramSize: 2, analysis: 'sentiment', cardText: 'headline' });
  assert.deepEqual(paths({ type: 'curate', input: { text: 'x' }, params: { summaryMaxTokens: 201, temperature: 101, noRepeatNgramSize: 0, analysis: 'mood' } }).sort(), [
    'params.analysis', 'params.noRepeatNgramSize', 'params.summaryMaxTokens', 'params.temperature',
  ]);
});

test('inputs: text is trimmed and must not be empty, a URL must be http(s), unknown fields are refused', () => {
  assert.equal((jobRequestSchema.parse({ type: 'classify', input: { text: '  hi  ' } }).input as { text: string }).text, 'hi');
  assert.deepEqual(paths({ type: 'classify', input: { text: '   ' } }), ['input.text']);
  assert.deepEqual(paths({ type: 'classify', input: { url: 'file:///etc/passwd' } }), ['input.url']);
  assert.deepEqual(paths({ type: 'classify', input: { text: 'x' }, extra: 1 }), ['(root)']);
  assert.deepEqual(paths({ type: 'teleport', input: { text: 'x' } }), ['type']);
});

test('image sizes are multiples of 8 and generation options are consistent', () => {
  assert.deepEqual(paths({ type: 'text-to-image', input: { prompt: 'a boat' }, params: { width: 500 } }), ['params.width']);
  const image = jobRequestSchema.parse({ type: 'text-to-image', input: { prompt: 'a boat' } });
  assert.equal(image.type === 'text-to-image' && image.params.guidanceScale, 7.5);
  assert.deepEqual(paths({ type: 'summarize', input: { text: 'x' }, params: { numBeams: 2, numReturnSequences: 3 } }), ['params.numReturnSequences']);
  assert.deepEqual(paths({ type: 'summarize', input: { text: 'x' }, params: { doSample: true, numReturnSequences: 3 } }), []);
});

test('a submission is one job or a batch of 1 to 100', () => {
  assert.ok(submitRequestSchema.safeParse({ jobs: Array.from({ length: 100 }, () => ({ type: 'classify', input: { text: 'x' } })) }).success);
  assert.equal(submitRequestSchema.safeParse({ jobs: Array.from({ length: 101 }, () => ({ type: 'classify', input: { text: 'x' } })) }).success, false);
});

test('errors carry a stable code, its HTTP status and the one body shape', () => {
  const error = new CuratorError('text_too_long', 'too long', { details: [{ path: 'input.text', message: 'over' }] });
  assert.equal(error.status, 413);
  assert.deepEqual(error.toBody(), { error: { code: 'text_too_long', message: 'too long', details: [{ path: 'input.text', message: 'over' }] } });
  assert.equal(errorCodes.validation_failed, 400);
  assert.equal(new CuratorError('storage_unavailable', 'down', { retryable: true }).retryable, true);
});

test('generation bounds are consistent: minTokens may not exceed maxTokens, and the field is named', () => {
  assert.deepEqual(paths({ type: 'headline', input: { text: 'x' }, params: { minTokens: 20, maxTokens: 10 } }), ['params.minTokens']);
  assert.deepEqual(paths({ type: 'headline', input: { text: 'x' }, params: { minTokens: 10, maxTokens: 10 } }), []);
});

test('a URL article may carry its own title (any Unicode), and a curate job says what the card shows', () => {
  const request = jobRequestSchema.parse({ type: 'curate', input: { url: 'https://example.com/a', title: '  Ωμέγα 🎉  ' }, params: { cardText: 'title' } });
  assert.equal((request.input as { title?: string }).title, 'Ωμέγα 🎉');
  assert.equal(request.type === 'curate' && request.params.cardText, 'title');
  assert.deepEqual(paths({ type: 'curate', input: { text: 'x' }, params: { cardText: 'summary' } }), ['params.cardText']);
});

test('results are contracts: each type has its stored shape, and the job view is told apart by type', () => {
  const classify = { task: 'sentiment', label: 'positive', scores: { positive: 1 }, model: 'm', models: 'test' };
  assert.ok(storedResultSchemas.classify.safeParse(classify).success);
  assert.equal(storedResultSchemas.classify.safeParse({ ...classify, models: undefined }).success, false, 'results say which model set made them');
  const view = { id: 'a', status: 'succeeded', progress: { percent: 100, stage: null }, stages: [], attempts: { made: 1, max: 3 }, error: null, createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, links: { self: '/jobs/a', events: '/jobs/a/events' }, deadline: null, expiresAt: null, queueWaitMs: null, runMs: null, rerunOf: null, history: [], webhook: null };
  assert.ok(jobViewSchema.safeParse({ ...view, type: 'classify', result: classify }).success);
  // A classify result under a summarize job is refused: the union is per type.
  assert.equal(jobViewSchema.safeParse({ ...view, type: 'summarize', result: classify }).success, false);
});
