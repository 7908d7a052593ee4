// `ensureWebBuild`: the studio is built when it has no build or an out-of-date one (npm start, CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWebBuild, webBuildState, webDistDir, webRoot } from '../src/index.ts';

test('a source newer than the build makes it stale; ensureWebBuild rebuilds it, then leaves it alone', async () => {
  await ensureWebBuild();
  assert.equal(webBuildState(), 'fresh');
  const source = join(webRoot, 'ui', 'format.ts');
  // Edited just after the build was made.
  const edited = new Date(statSync(join(webDistDir, 'index.html')).mtimeMs + 1);
  utimesSync(source, edited, edited);
  assert.equal(webBuildState(), 'stale');
  const lines: string[] = [];
  const rebuilt = await ensureWebBuild({ onProgress: (line) => lines.push(line) });
  assert.equal(rebuilt.built, true);
  assert.ok(lines.some((line) => /built in/.test(line)), 'Vite reported its progress');
  assert.equal(webBuildState(), 'fresh');
  assert.equal((await ensureWebBuild()).built, false);
});

test('the build has no inline script or style, and names its hashed files', () => {
  const html = readFileSync(join(webDistDir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=/);
  const assets = readdirSync(join(webDistDir, 'assets'));
  assert.ok(assets.some((name) => /^index-[\w-]{8}\.js$/.test(name)));
  assert.ok(assets.some((name) => /^index-[\w-]{8}\.css$/.test(name)));
  for (const name of assets.filter((file) => file.endsWith('.js'))) {
    assert.doesNotMatch(readFileSync(join(webDistDir, 'assets', name), 'utf8'), /\beval\(/, `${name} calls no eval (the CSP forbids it)`);
  }
});
