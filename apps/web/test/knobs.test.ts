// The form's knobs follow the contracts (bounds and defaults read from the zod schemas), and the
// words shown for the API's error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curateParamsSchema, imageParamsSchema, jobRequestSchema } from '@curator/contracts';
import {
  allKnobs,
  changedKnobs,
  draftFromRequest,
  emptyDraft,
  imageKnobs,
  mergeOverrides,
  requestFromDraft,
  rerunOverrides,
  textKnobs,
  validateOverrides,
  validateRequest,
  type NumberKnob,
} from '../ui/knobs.ts';
import { describeProblem } from '../ui/messages.ts';

const curateDefaults = curateParamsSchema.parse({});
const imageDefaults = imageParamsSchema.parse({});

test('an untouched form asks for exactly what the server would fill in by default', () => {
  const draft = { ...emptyDraft(), source: 'text' as const, text: 'An article.' };
  const request = jobRequestSchema.parse(requestFromDraft(draft));
  assert.equal(request.type, 'curate');
  if (request.type !== 'curate') return;
  const { image, ...text } = request.params;
  assert.deepEqual(text, curateDefaults);
  assert.deepEqual(image, imageDefaults);
});

test("every number knob's bounds are the contract's: the bounds pass, one step beyond fails", () => {
  const numberKnobs = allKnobs.filter((knob): knob is NumberKnob => knob.kind === 'number');
  assert.ok(numberKnobs.length >= 9);
  for (const knob of numberKnobs) {
    assert.ok(knob.min !== undefined && knob.max !== undefined, `${knob.path} is bounded`);
    const step = knob.step === 'any' ? 0.001 : knob.step;
    for (const [value, valid] of [
      [knob.min, true],
      [knob.max, true],
      [knob.min - step, false],
      [knob.max + step, false],
    ] as const) {
      const draft = { ...emptyDraft(), source: 'text' as const, text: 'An article.', knobs: { ...emptyDraft().knobs, [knob.path]: String(value) } };
      const problems = validateRequest(requestFromDraft(draft));
      assert.equal(problems.length === 0, valid, `${knob.path} = ${value}: ${JSON.stringify(problems)}`);
      if (!valid) assert.equal(problems[0]!.path, knob.path, 'the problem names the field as the API does');
    }
  }
  // A rule the schema states only as a refinement, found by asking it.
  assert.equal(imageKnobs.width.step, 8);
  assert.equal(textKnobs.summaryMaxTokens.step, 1);
});

test('choices are the contract’s enums; the scheduler may be left to the model', () => {
  assert.deepEqual(textKnobs.analysis.options, ['sentiment', 'genre']);
  assert.equal(textKnobs.analysis.defaultValue, curateDefaults.analysis);
  assert.equal(imageKnobs.scheduler.optional, true);
  assert.ok(imageKnobs.scheduler.options.includes('ddim'));
});

test('a stored request comes back as the same draft (rerun), and changed knobs are listed (compare)', () => {
  const draft = { ...emptyDraft(), source: 'url' as const, url: 'https://example.com/news/a', title: 'A' };
  draft.knobs['params.imagePrefix'] = 'Watercolour - ';
  draft.knobs['params.image.scheduler'] = 'ddim';
  const request = requestFromDraft(draft);
  assert.deepEqual(requestFromDraft(draftFromRequest(request)), request);
  const before = requestFromDraft({ ...draft, knobs: { ...draft.knobs, 'params.imagePrefix': 'Impressionist image - ' } });
  assert.deepEqual(
    changedKnobs(before, request).map(({ knob, before: was, after: now }) => [knob.path, was, now]),
    [['params.imagePrefix', 'Impressionist image - ', 'Watercolour - ']],
  );
});

test('a rerun sends only the knobs changed since it began, merged over the original by the server (and here, for comparing)', () => {
  const original = requestFromDraft({ ...emptyDraft(), source: 'text', text: 'An article.', knobs: { ...emptyDraft().knobs, 'params.image.steps': '8', 'params.seed': '11' } });
  const base = draftFromRequest(original);
  const draft = { ...base, knobs: { ...base.knobs, 'params.imagePrefix': 'Watercolour - ', 'params.image.width': '256' } };
  const overrides = rerunOverrides(base, draft);
  assert.deepEqual(overrides, { imagePrefix: 'Watercolour - ', image: { width: 256 } });
  assert.deepEqual(rerunOverrides(base, base), {});
  const merged = mergeOverrides(original, overrides);
  const params = merged.params as { imagePrefix: string; seed: number; image: { steps: number; width: number } };
  assert.equal(params.imagePrefix, 'Watercolour - ');
  assert.equal(params.seed, 11, 'untouched knobs stay the original’s');
  assert.deepEqual([params.image.steps, params.image.width], [8, 256]);
  assert.deepEqual(changedKnobs(original, merged).map(({ knob }) => knob.path).sort(), ['params.image.width', 'params.imagePrefix']);
  // Checked as the rerun's schema allows a curate job's overrides, named as the API names them.
  assert.deepEqual(validateOverrides(overrides), []);
  assert.deepEqual(validateOverrides({ image: { width: 100 } }).map((detail) => detail.path), ['params.image.width']);
});

test('errors read as plain words by code; an unknown code keeps the server message', () => {
  assert.match(describeProblem('unauthorized', 'An API key is required').title, /needs an API key/);
  assert.equal(describeProblem('quota_exceeded', 'Daily job quota used').title, 'The daily job quota of this API key is used up.');
  assert.equal(describeProblem('idempotency_conflict', 'Idempotency-Key reused').title, 'This request was already sent once with other contents.');
  for (const code of ['forbidden', 'rate_limited', 'content_policy', 'job_not_retryable', 'deadline_exceeded']) assert.notEqual(describeProblem(code, 'x').title, 'Something went wrong.', code);
  assert.equal(describeProblem('fetch_blocked', 'Refused to fetch http://10.0.0.1/: the address is blocked').title, 'That address is not allowed.');
  assert.match(describeProblem('fetch_failed', 'the site answered 404').advice, /answered 404/);
  assert.equal(describeProblem('content_policy', 'The prompt names a blocked term').title, 'This request was refused by the content policy.');
  assert.equal(describeProblem('rate_limited', 'Too many requests', 12).advice, 'Wait 12 seconds and try again.');
  assert.equal(describeProblem('rate_limited', 'Too many requests', null).advice, 'Wait a moment and try again.');
  const unknown = describeProblem('brand_new_code', 'Something the server says.');
  assert.equal(unknown.advice, 'Something the server says.');
  assert.equal(unknown.code, 'brand_new_code');
});
