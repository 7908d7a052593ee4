import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFailure, decodeFailure, poolForJobType } from '../src/index.ts';

test('a typed failure survives BullMQ, which keeps only a message', () => {
  const info = { code: 'fetch_blocked' as const, message: 'private address', details: [{ path: 'input.url', message: '10.0.0.1' }] };
  assert.deepEqual(decodeFailure(encodeFailure(info)), info);
});

test('messages that were not encoded become internal_error; stalls and child failures say what happened', () => {
  assert.deepEqual(decodeFailure('boom'), { code: 'internal_error', message: 'boom' });
  assert.equal(decodeFailure('job stalled more than allowable limit').code, 'inference_failed');
  assert.equal(decodeFailure('child curator:image:abc-image failed').code, 'inference_failed');
  assert.equal(decodeFailure(undefined).code, 'internal_error');
  assert.equal(decodeFailure('curator-error:{not json').code, 'internal_error');
});

test('image jobs go to the image pool, everything else to the text pool', () => {
  assert.equal(poolForJobType('text-to-image'), 'image');
  for (const type of ['curate', 'classify', 'summarize', 'headline'] as const) assert.equal(poolForJobType(type), 'text');
});
