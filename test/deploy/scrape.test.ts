// The dashboards and alerts query what the running processes really export: a gateway and a worker
// are started, both /metrics are scraped, and every Curator or Node.js metric a query names must be there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { run } from '../support/processes.ts';
import { analysePromql, parseYaml, readRepoFile, substituteGrafanaVariables } from './helpers.ts';

let t: TestEnvironment;
before(async () => {
  t = await testEnvironment({ vars: { LOG_LEVEL: 'info', WORKER_METRICS_PORT: String(await freePort()) } });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
after(async () => {
  await t.close();
});

function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!match) continue;
    names.add(match[1]!);
    if (match[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(match[1] + suffix);
    if (match[2] === 'summary') for (const suffix of ['_sum', '_count']) names.add(match[1] + suffix);
  }
  return names;
}

function queriedNames(): Array<{ where: string; name: string }> {
  const out: Array<{ where: string; name: string }> = [];
  type Panel = { title: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };
  for (const file of readdirSync(new URL('../../grafana/dashboards/', import.meta.url)).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readRepoFile(`grafana/dashboards/${file}`)) as { panels: Panel[] };
    for (const panel of dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])) {
      for (const target of panel.targets ?? []) {
        for (const name of analysePromql(substituteGrafanaVariables(target.expr ?? '')).metricNames) out.push({ where: `${file}: ${panel.title}`, name });
      }
    }
  }
  const rules = parseYaml(readRepoFile('prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> };
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    for (const name of analysePromql(String(rule.expr)).metricNames) out.push({ where: `alert ${rule.alert}`, name });
  }
  return out;
}

test('every Curator metric the dashboards and alerts query is exported by a running gateway or worker', async () => {
  const worker = run('apps/worker/src/main.ts', [], t.vars);
  const gateway = run('apps/gateway/src/main.ts', [], t.vars);
  try {
    const metricsPort = Number((await worker.waitForLog((e) => e.msg === 'metrics listening')).port);
    await worker.waitForLog((e) => e.msg === 'worker ready');
    const url = String((await gateway.waitForLog((e) => e.msg === 'gateway listening')).url);
    // One job, so the per-job series exist too.
    const res = await fetch(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'classify', input: { text: 'scrape me' } }) });
    const { id } = (await res.json()) as { id: string };
    await waitFor(() => fetch(`${url}/jobs/${id}`).then((r) => r.json() as Promise<{ status: string }>), (v) => v.status === 'succeeded', 'the job');

    const exposed = new Set([...exposedNames(await (await fetch(`${url}/metrics`)).text()), ...exposedNames(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())]);
    const ours = queriedNames().filter(({ name }) => /^(curator_|nodejs_|process_)/.test(name));
    assert.ok(ours.length > 20, `found ${ours.length} queried metric names`);
    const missing = ours.filter(({ name }) => !exposed.has(name));
    assert.deepEqual(missing, [], 'queried but not exported');
  } finally {
    await gateway.stop();
    await worker.stop();
  }
});
