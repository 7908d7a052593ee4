import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { resultSchemas, schemaExamples, jobTypes } from '../src/index.ts';

test('every example is valid for its own schema', () => {
  assert.ok(schemaExamples.length >= 10);
  for (const { name, schema, examples } of schemaExamples) {
    assert.ok(examples.length > 0, `${name} has examples`);
    for (const [i, example] of examples.entries()) {
      const parsed = schema.safeParse(example);
      assert.ok(parsed.success, `${name} example ${i}: ${parsed.success ? '' : z.prettifyError(parsed.error)}`);
    }
  }
});

test('the examples are in the JSON Schema the OpenAPI document is made from', () => {
  for (const { name, schema, examples } of schemaExamples) {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as { $defs?: Record<string, { examples?: unknown[] }> };
    assert.deepEqual(json.$defs?.[name]?.examples, examples, name);
  }
});

test("each job type's result, each job request and every body a client sends has examples", () => {
  const named = new Set(schemaExamples.map((entry) => entry.name));
  for (const type of jobTypes) assert.ok(schemaExamples.some((entry) => entry.schema === resultSchemas[type]), `the ${type} result`);
  for (const name of ['CurateJobRequest', 'ClassifyJobRequest', 'SummarizeJobRequest', 'HeadlineJobRequest', 'TextToImageJobRequest', 'BatchJobRequest', 'RerunRequest', 'FeedbackRequest']) {
    assert.ok(named.has(name), name);
  }
});
