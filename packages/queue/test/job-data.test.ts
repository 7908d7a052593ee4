import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFailure, decodeFailure } from '../src/job-data.ts';
import { poolForJobType, jobTypesForPool, isJobId, childJobId, parentOfChildId, newJobId } from '../src/names.ts';

test('a typed failure survives BullMQ, which keeps only a message', () => {
  const info = { code: 'fetch_blocked' as const, message: 'private address', details: [{ path: 'input.url', message: 'blocked' }] };
  assert.deepEqual(decodeFailure(encodeFailure(info)), info);
});

test('a message Curator did not write is internal_error with that message', () => {
  assert.deepEqual(decodeFailure('boom'), { code: 'internal_error', message: 'boom' });
  assert.equal(decodeFailure(undefined).code, 'internal_error');
  assert.equal(decodeFailure('curator-error:{not json').code, 'internal_error');
});

test('one mapping of job types to pools, read both ways', () => {
  assert.equal(poolForJobType('text-to-image'), 'image');
  for (const type of ['curate', 'classify', 'summarize', 'headline'] as const) assert.equal(poolForJobType(type), 'text');
  assert.deepEqual(jobTypesForPool('image'), ['text-to-image']);
  assert.deepEqual(jobTypesForPool('text').sort(), ['classify', 'curate', 'headline', 'summarize']);
});

test("job ids are UUIDs, never BullMQ's own key names; a child id leads back to its parent", () => {
  const id = newJobId();
  assert.ok(isJobId(id));
  for (const reserved of ['meta', 'id', 'events', 'stalled-check', 'completed', 'failed', 'wait', `${id}-image`, '']) assert.equal(isJobId(reserved), false, reserved);
  assert.equal(parentOfChildId(childJobId(id, 'image')), id);
  assert.equal(parentOfChildId(id), null);
  assert.equal(parentOfChildId('meta-image'), null);
});
