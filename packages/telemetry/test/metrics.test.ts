import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../src/index.ts';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

test('every metric has a valid, unique name and valid label names', async () => {
  const { registry } = createMetrics({ process: 'all' });
  const metrics = await registry.getMetricsAsJSON();
  const names = metrics.map((m) => m.name);
  assert.equal(new Set(names).size, names.length, 'duplicate metric names');
  for (const m of registry.getMetricsAsArray()) {
    const { name, labelNames, help } = m as unknown as { name: string; labelNames: string[]; help: string };
    assert.match(name, metricName);
    assert.ok(help.length > 10, `${name} has no help text`);
    for (const label of labelNames) {
      assert.match(label, labelName, `${name}: label ${label}`);
      assert.ok(!label.startsWith('__'), `${name}: label ${label} is reserved`);
    }
  }
});

test("Curator's own metrics follow the naming conventions", async () => {
  const { registry } = createMetrics({ process: 'all' });
  const own = (await registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('curator_'));
  assert.ok(own.length >= 20, `only ${own.length} curator_ metrics`);
  for (const m of own) {
    if (String(m.type) === 'counter') assert.match(m.name, /_total$/, `${m.name}: counters end in _total`);
    else assert.doesNotMatch(m.name, /_total$/, `${m.name}: only counters end in _total`);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|minutes|kilobytes|megabytes)(_|$)/, `${m.name}: use base units`);
    assert.doesNotMatch(m.name, /[A-Z]/, `${m.name}: snake_case`);
  }
  const durations = own.filter((m) => /duration|wait|load|warmup|first_token|busy/.test(m.name));
  for (const m of durations) assert.match(m.name, /_seconds(_total)?$/, `${m.name}: time is in seconds`);
});

test('each process kind gets its own metrics, and the default ones', async () => {
  const names = async (process: 'gateway' | 'worker' | 'all') =>
    new Set((await createMetrics({ process }).registry.getMetricsAsJSON()).map((m) => m.name));
  const gateway = await names('gateway');
  const worker = await names('worker');
  const all = await names('all');
  assert.ok(gateway.has('curator_http_request_duration_seconds'));
  assert.ok(gateway.has('curator_queue_depth'));
  assert.ok(!gateway.has('curator_stage_duration_seconds'));
  assert.ok(worker.has('curator_stage_duration_seconds'));
  assert.ok(worker.has('curator_tokens_generated_total'));
  assert.ok(!worker.has('curator_http_request_duration_seconds'));
  assert.ok(!worker.has('curator_queue_depth'), 'queue depth comes from one place only, else sum() double counts');
  for (const n of [...gateway, ...worker]) assert.ok(all.has(n), `all lacks ${n}`);
  for (const set of [gateway, worker]) {
    assert.ok(set.has('nodejs_eventloop_lag_p99_seconds'));
    assert.ok(set.has('process_cpu_seconds_total'));
  }
});

test('a histogram observation shows up in the exposition text with its labels', async () => {
  const metrics = createMetrics({ process: 'worker', defaultLabels: { service: 'worker' } });
  metrics.stageDuration.observe({ stage: 'summarize', model: 't5-small' }, 0.3);
  metrics.stageDuration.observe({ stage: 'summarize', model: 't5-small' }, 4);
  const text = await metrics.registry.metrics();
  const line = (suffix: string) =>
    text.split('\n').find((l) => l.startsWith(`curator_stage_duration_seconds_${suffix}`) && l.includes('stage="summarize"'));
  assert.match(line('bucket{le="0.5"') ?? '', /service="worker"/);
  assert.match(line('bucket{le="0.5"') ?? '', / 1$/);
  assert.match(line('bucket{le="5"') ?? '', / 2$/);
  assert.match(line('bucket{le="+Inf"') ?? '', / 2$/);
  assert.match(line('count') ?? '', / 2$/);
  assert.match(line('sum') ?? '', / 4\.3$/);
  assert.match(text, /^# TYPE curator_stage_duration_seconds histogram$/m);
});

test('registries are independent of each other', async () => {
  const a = createMetrics({ process: 'gateway' });
  const b = createMetrics({ process: 'gateway' });
  a.jobsSubmitted.inc({ type: 'curate' }, 3);
  assert.match(await a.registry.metrics(), /^curator_jobs_submitted_total\{type="curate"\} 3$/m);
  assert.doesNotMatch(await b.registry.metrics(), /^curator_jobs_submitted_total\{/m);
});

test('the queue depth source is sampled on every scrape', async () => {
  const metrics = createMetrics({ process: 'gateway' });
  assert.doesNotMatch(await metrics.registry.metrics(), /^curator_queue_depth\{/m, 'no source, no series');
  let calls = 0;
  metrics.setQueueDepthSource(async () => {
    calls += 1;
    return [
      { queue: 'text', state: 'waiting', count: 10 * calls },
      { queue: 'image', state: 'active', count: 2 },
    ];
  });
  const first = await metrics.registry.metrics();
  assert.match(first, /^curator_queue_depth\{queue="text",state="waiting"\} 10$/m);
  assert.match(first, /^curator_queue_depth\{queue="image",state="active"\} 2$/m);
  const second = await metrics.registry.metrics();
  assert.equal(calls, 2);
  assert.match(second, /^curator_queue_depth\{queue="text",state="waiting"\} 20$/m);
});

test('a failing source empties its gauge and counts the failure instead of repeating an old value', async () => {
  const metrics = createMetrics({ process: 'gateway' });
  let fail = false;
  metrics.setQueueDepthSource(async () => {
    if (fail) throw new Error('redis down');
    return [{ queue: 'text', state: 'waiting', count: 7 }];
  });
  assert.match(await metrics.registry.metrics(), /^curator_queue_depth\{queue="text",state="waiting"\} 7$/m);
  fail = true;
  assert.doesNotMatch(await metrics.registry.metrics(), /^curator_queue_depth\{/m);
  // The error counter may be serialized before the failing gauge's collect runs: look at the next scrape.
  assert.match(await metrics.registry.metrics(), /^curator_metrics_source_errors_total\{source="queue_depth"\} [1-9]$/m);
});

test('worker counts come from the worker count source, one call per scrape', async () => {
  const metrics = createMetrics({ process: 'gateway' });
  let calls = 0;
  metrics.setWorkerCountSource(async () => {
    calls += 1;
    return [
      { pool: 'text', alive: 3, ready: 2 },
      { pool: 'image', alive: 1, ready: 0 },
    ];
  });
  const text = await metrics.registry.metrics();
  assert.equal(calls, 1);
  assert.match(text, /^curator_workers\{pool="text",state="alive"\} 3$/m);
  assert.match(text, /^curator_workers\{pool="text",state="ready"\} 2$/m);
  assert.match(text, /^curator_workers\{pool="image",state="ready"\} 0$/m);
  await metrics.registry.metrics();
  assert.equal(calls, 2);
});
