// The client runs in browsers too (the web studio bundles it): nothing Node-only may reach its sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const srcDir = new URL('../src/', import.meta.url);
const sources = readdirSync(srcDir).filter((file) => file.endsWith('.ts'));
const imports = (text: string) => [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((match) => match[1]!);

test('the sources import only the contracts, zod and eventsource-parser (or each other)', () => {
  assert.ok(sources.length >= 3);
  for (const file of sources) {
    for (const specifier of imports(readFileSync(new URL(file, srcDir), 'utf8'))) {
      assert.ok(/^(\.\/|@curator\/contracts$|zod$|eventsource-parser(\/stream)?$)/.test(specifier), `${file} imports ${specifier}`);
    }
  }
});

test('no Node globals in the sources', () => {
  for (const file of sources) {
    const text = readFileSync(new URL(file, srcDir), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
    assert.doesNotMatch(text, /\b(process|Buffer|require|__dirname|global)\b\s*[.([]/, file);
  }
});

test('the package depends on nothing else', () => {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['@curator/contracts', 'eventsource-parser', 'zod']);
});
