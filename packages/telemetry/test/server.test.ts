import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createMetrics, startMetricsServer } from '../src/index.ts';

test('the metrics server serves /metrics and /healthz', async (t) => {
  const metrics = createMetrics({ process: 'worker' });
  metrics.tokensGenerated.inc({ model: 't5-small' }, 12);
  const server = await startMetricsServer(metrics.registry, 0, '127.0.0.1');
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;

  const scrape = await fetch(`${base}/metrics`);
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(await scrape.text(), /^curator_tokens_generated_total\{model="t5-small"\} 12$/m);

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });

  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
});

test('/healthz reports an unhealthy process with 503', async (t) => {
  const metrics = createMetrics({ process: 'worker' });
  let healthy = false;
  const server = await startMetricsServer(metrics.registry, 0, '127.0.0.1', { isHealthy: () => healthy });
  t.after(() => server.close());
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 503);
  healthy = true;
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
});

test('a port in use is an error, not a silent failure', async (t) => {
  const metrics = createMetrics({ process: 'worker' });
  const first = await startMetricsServer(metrics.registry, 0, '127.0.0.1');
  t.after(() => first.close());
  await assert.rejects(startMetricsServer(metrics.registry, first.port, '127.0.0.1'), /EADDRINUSE/);
});

test('the logger writes one JSON object per line to stdout, with its name and level word', () => {
  const script = `import { createLogger } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
    const log = createLogger('worker', 'info'); log.debug('hidden'); log.info({ jobId: 'j1' }, 'job started');`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'debug is below the level');
  const entry = JSON.parse(lines[0] ?? '');
  assert.equal(entry.name, 'worker');
  assert.equal(entry.level, 'info');
  assert.equal(entry.msg, 'job started');
  assert.equal(entry.jobId, 'j1');
  assert.match(entry.time, /^\d{4}-\d\d-\d\dT/);
});
