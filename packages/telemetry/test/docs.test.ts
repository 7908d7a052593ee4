import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createMetrics } from '../src/index.ts';

test('docs/metrics.md documents exactly the curator_ metrics the registry has', async () => {
  const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(curator_[a-z0-9_]+)` \|/gm)].map((m) => m[1]));
  const registered = new Set(
    (await createMetrics({ process: 'all' }).registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('curator_')),
  );
  for (const name of registered) assert.ok(documented.has(name), `docs/metrics.md lacks ${name}`);
  for (const name of documented) assert.ok(registered.has(name as string), `docs/metrics.md documents ${name}, which does not exist`);
});
