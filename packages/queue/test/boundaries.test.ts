import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const importsBullmq = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]bullmq(?:\/[^'"]*)?['"]/;

test('@curator/queue is the only module that knows BullMQ: no file under apps/ imports it', () => {
  const files = globSync('apps/**/*.{ts,mts,js,mjs}', { cwd: root }).filter((file) => !file.includes('node_modules'));
  assert.ok(files.length > 20, `found the app files (${files.length})`);
  const offenders = files.filter((file) => importsBullmq.test(readFileSync(`${root}/${file}`, 'utf8')));
  assert.deepEqual(offenders, [], 'use @curator/queue (JobQueues, startJobRuntime) instead');
  for (const manifest of globSync('apps/*/package.json', { cwd: root })) {
    const { dependencies = {}, devDependencies = {} } = JSON.parse(readFileSync(`${root}/${manifest}`, 'utf8'));
    assert.ok(!('bullmq' in dependencies) && !('bullmq' in devDependencies), `${manifest} depends on bullmq`);
  }
});

test('the scan recognises the ways a file could import BullMQ', () => {
  for (const line of ["import { Queue } from 'bullmq';", 'import type { Job } from "bullmq";', "await import('bullmq')", "require('bullmq/dist/esm')"]) assert.match(line, importsBullmq, line);
  for (const line of ["import { JobQueues } from '@curator/queue';", '// BullMQ is hidden behind the queue'] ) assert.doesNotMatch(line, importsBullmq, line);
});
