import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const sources = () =>
  [...globSync('apps/*/src/**/*.ts', { cwd: root }), ...globSync('packages/*/src/**/*.ts', { cwd: root })].filter((file) => !file.startsWith('packages/config/'));

/** `process.env`, `process['env']`, or `env` taken from the `process` module. */
const readsEnvironment = /\bprocess\s*(\.\s*env\b|\[\s*['"]env['"]\s*\])|\{[^}]*\benv\b[^}]*\}\s*from\s*['"](node:)?process['"]/;

test('only @curator/config reads the environment: every other source receives the typed Env', () => {
  const files = sources();
  assert.ok(files.length > 50, `found the sources (${files.length})`);
  const offenders = files.filter((file) => readsEnvironment.test(readFileSync(`${root}/${file}`, 'utf8')));
  assert.deepEqual(offenders, [], 'read the variable through loadEnv() in packages/config and pass the Env down');
});

test('the scan recognises the ways a source could read the environment', () => {
  for (const line of ['const a = process.env.X;', "const b = process['env'];", "import { env } from 'node:process';", 'process .env']) assert.match(line, readsEnvironment, line);
  for (const line of ['const env = loadEnv();', 'deps.env.PORT', "import process from 'node:process'; process.exit(1)"]) assert.doesNotMatch(line, readsEnvironment, line);
});
