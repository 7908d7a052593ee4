import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEnv } from '@curator/config';
import { defaultAllowedPorts } from '@curator/safe-fetch';
import { defaultExtractionLimits, defaultExtractionThreads, defaultMaxArticleChars } from '../src/index.ts';

// Callers that pass no limits (tests, the shared extractor) get the same numbers a default deployment has.
test('the package defaults are the configuration defaults', () => {
  const env = loadEnv({});
  assert.deepEqual(defaultExtractionLimits, { timeoutMs: env.EXTRACT_TIMEOUT_MS, maxDepth: env.EXTRACT_MAX_DEPTH, maxNodes: env.EXTRACT_MAX_NODES });
  assert.equal(defaultExtractionThreads, env.EXTRACT_THREADS);
  assert.deepEqual([...defaultAllowedPorts], env.FETCH_ALLOWED_PORTS);
  assert.equal(defaultMaxArticleChars, env.MAX_ARTICLE_CHARS);
});
