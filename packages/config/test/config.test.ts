import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadEnv, configMarkdownTable, CuratorConfigError } from '../src/index.ts';

test('defaults apply and values are typed', () => {
  const env = loadEnv({});
  assert.equal(env.PORT, 8080);
  assert.deepEqual(env.WORKER_POOLS, ['text', 'image']);
  assert.equal(env.S3_FORCE_PATH_STYLE, true);
  assert.equal(env.MAX_ARTICLE_CHARS, 100000);
  assert.equal(loadEnv({ WORKER_POOLS: 'image', FETCH_ALLOW_PRIVATE: 'yes' }).FETCH_ALLOW_PRIVATE, true);
});

test('every wrong variable is named at once', () => {
  assert.throws(
    () => loadEnv({ PORT: 'eighty', WORKER_POOLS: 'gpu', CURATOR_DEVICE: 'tpu' }),
    (error: unknown) => error instanceof CuratorConfigError && error.problems.length === 3 && /PORT=/.test(error.message) && /WORKER_POOLS=/.test(error.message) && /CURATOR_DEVICE=/.test(error.message),
  );
});

test('the README configuration table is the one printed from the variables', async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configMarkdownTable()), 'README.md is out of date: paste `npm run curator -- config --markdown`');
});

test('session options per role are JSON, checked field by field', () => {
  assert.deepEqual(loadEnv({ CURATOR_SESSION_OPTIONS: '{"summarizer":{"threads":2},"*":{"enableMemArena":false}}' }).CURATOR_SESSION_OPTIONS, { summarizer: { threads: 2 }, '*': { enableMemArena: false } });
  assert.deepEqual(loadEnv({}).CURATOR_SESSION_OPTIONS, {});
  assert.throws(() => loadEnv({ CURATOR_SESSION_OPTIONS: '{nope' }), /CURATOR_SESSION_OPTIONS.*must be JSON/);
  assert.throws(() => loadEnv({ CURATOR_SESSION_OPTIONS: '{"summarizer":{"threads":"many"}}' }), /CURATOR_SESSION_OPTIONS/);
});
