// Prometheus configuration and alert rules checked by promtool (Debian's `prometheus` package), and every
// metric an alert uses exists in @curator/telemetry or in an exporter's known list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analysePromql, findPromtool, knownMetricNames, runPromtool, yamlDocuments } from './helpers.ts';

const promtool = findPromtool();
const skip = promtool ? false : 'promtool not installed (apt-get install prometheus)';

test('promtool check config accepts prometheus/prometheus.yml', { skip }, () => {
  const run = runPromtool(promtool as string, ['check', 'config', 'prometheus/prometheus.yml']);
  assert.equal(run.status, 0, run.output);
});

test('promtool check rules accepts prometheus/alerts.yml', { skip }, () => {
  const run = runPromtool(promtool as string, ['check', 'rules', 'prometheus/alerts.yml']);
  assert.equal(run.status, 0, run.output);
});

test('the alert rules fire, and stay quiet, as their unit tests expect', { skip }, () => {
  const run = runPromtool(promtool as string, ['test', 'rules', 'prometheus/alerts.test.yml']);
  assert.equal(run.status, 0, run.output);
});

test('promtool rejects a broken rule (the check can fail)', { skip }, async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'curator-rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(curator_jobs_failed_total[5m]) > \n');
  assert.notEqual(runPromtool(promtool as string, ['check', 'rules', file]).status, 0);
});

test('the alerts cover what issue 6 asks for', () => {
  const [doc] = yamlDocuments('prometheus/alerts.yml') as [{ groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }];
  const alerts = new Map(doc.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
  assert.match(alerts.get('CuratorJobLatencyP95High') ?? '', /histogram_quantile\(0\.95,.*curator_job_duration_seconds_bucket/s);
  assert.match(alerts.get('CuratorGpuMemoryNearlyFull') ?? '', /DCGM_FI_DEV_FB_USED/);
  assert.match(alerts.get('CuratorBacklogGrowing') ?? '', /curator_queue_depth/);
  assert.match(alerts.get('CuratorNoReadyWorkers') ?? '', /curator_workers\{state="ready"\}/);
  assert.match(alerts.get('CuratorJobFailureRateHigh') ?? '', /curator_jobs_failed_total/);
  assert.match(alerts.get('CuratorWorkerStoppedHeartbeating') ?? '', /curator_worker_last_heartbeat_timestamp_seconds/);
});

test('every metric an alert uses exists', async () => {
  const known = await knownMetricNames();
  const [doc] = yamlDocuments('prometheus/alerts.yml') as [{ groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }];
  for (const rule of doc.groups.flatMap((g) => g.rules)) {
    const { metricNames, errors } = analysePromql(rule.expr);
    assert.deepEqual(errors, [], rule.alert);
    for (const name of metricNames) assert.ok(known.has(name), `${rule.alert} uses unknown metric ${name}`);
  }
});

test('Prometheus scrapes the gateway, every worker replica, redis and DCGM', () => {
  const [config] = yamlDocuments('prometheus/prometheus.yml') as [{ scrape_configs: Array<Record<string, unknown>> }];
  const jobs = new Map(config.scrape_configs.map((c) => [c.job_name as string, JSON.stringify(c)]));
  assert.match(jobs.get('curator-gateway') ?? '', /gateway:8080/);
  assert.match(jobs.get('curator-worker') ?? '', /dns_sd_configs.*"worker".*"worker-cpu".*9464/);
  assert.match(jobs.get('redis') ?? '', /redis-exporter:9121/);
  assert.match(jobs.get('dcgm') ?? '', /dcgm-exporter.*9400/);
});
