// Grafana dashboards parse, point at the provisioned datasource, and query only metrics that exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analysePromql, knownMetricNames, listRepoDir, readRepoFile, substituteGrafanaVariables, yamlDocuments } from './helpers.ts';

type Panel = { id: number; type: string; title: string; datasource?: { uid?: string }; targets?: Array<{ expr?: string; refId: string }>; panels?: Panel[] };
type Dashboard = { uid: string; title: string; panels: Panel[]; templating?: { list: Array<{ query?: unknown; definition?: string }> } };

const dashboardFiles = listRepoDir('grafana/dashboards').filter((f) => f.endsWith('.json'));
const dashboards = dashboardFiles.map((file) => ({ file, dashboard: JSON.parse(readRepoFile(`grafana/dashboards/${file}`)) as Dashboard }));
const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

test('there is a service overview and a GPU fleet dashboard, with unique uids', () => {
  const uids = dashboards.map((d) => d.dashboard.uid);
  assert.ok(uids.includes('curator-overview'));
  assert.ok(uids.includes('curator-gpu-fleet'));
  assert.equal(new Set(uids).size, uids.length);
  const [compose] = yamlDocuments('compose.yaml') as [{ services: { grafana: { environment: Record<string, string> } } }];
  const home = compose.services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
  assert.ok(dashboardFiles.includes(home.split('/').at(-1) ?? ''), `home dashboard ${home} exists`);
});

test('the provisioning loads the dashboards folder and the datasource the panels use', () => {
  const [datasources] = yamlDocuments('grafana/provisioning/datasources/prometheus.yml') as [{ datasources: Array<{ uid: string; type: string; url: string }> }];
  const [providers] = yamlDocuments('grafana/provisioning/dashboards/curator.yml') as [{ providers: Array<{ options: { path: string } }> }];
  const prometheus = datasources.datasources.find((d) => d.type === 'prometheus');
  assert.equal(prometheus?.url, 'http://prometheus:9090');
  assert.equal(providers.providers[0]?.options.path, '/var/lib/grafana/dashboards');
  for (const { file, dashboard } of dashboards) {
    for (const panel of panelsOf(dashboard)) {
      if (panel.type === 'row') continue;
      assert.equal(panel.datasource?.uid, prometheus?.uid, `${file}: panel "${panel.title}" uses another datasource`);
    }
  }
});

test('panels have unique ids and each has a query', () => {
  for (const { file, dashboard } of dashboards) {
    const panels = panelsOf(dashboard).filter((p) => p.type !== 'row');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids`);
    for (const panel of panels) assert.ok((panel.targets ?? []).some((t) => t.expr), `${file}: "${panel.title}" has no query`);
  }
});

test('every panel query is valid PromQL over metrics that exist', async () => {
  const known = await knownMetricNames();
  let checked = 0;
  for (const { file, dashboard } of dashboards) {
    const exprs = panelsOf(dashboard).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${file}: "${p.title}" ${t.refId}`, expr: t.expr ?? '' })));
    for (const v of dashboard.templating?.list ?? []) {
      const match = /label_values\((\w+)/.exec(v.definition ?? '');
      if (match) assert.ok(known.has(match[1] as string), `${file}: variable uses unknown metric ${match[1]}`);
    }
    for (const { where, expr } of exprs) {
      const { metricNames, errors } = analysePromql(substituteGrafanaVariables(expr));
      assert.deepEqual(errors, [], `${where}: ${expr}`);
      assert.ok(metricNames.length > 0, `${where} selects no metric`);
      for (const name of metricNames) assert.ok(known.has(name), `${where} uses unknown metric ${name}`);
      checked += 1;
    }
  }
  assert.ok(checked >= 20, `only ${checked} queries`);
});

test('the metric check catches a misspelled metric and a syntax error (it can fail)', async () => {
  const known = await knownMetricNames();
  const typo = analysePromql('sum(rate(curator_job_completed_total[5m]))');
  assert.ok(typo.metricNames.some((n) => !known.has(n)));
  assert.notDeepEqual(analysePromql('sum(rate(curator_jobs_completed_total[5m])').errors, []);
});

test('the overview shows throughput, latency percentiles, errors and backlog; the fleet GPUs, batches and stages', () => {
  const text = (uid: string) => JSON.stringify(dashboards.find((d) => d.dashboard.uid === uid)?.dashboard);
  const overview = text('curator-overview');
  for (const needle of ['curator_jobs_submitted_total', 'histogram_quantile(0.95', 'histogram_quantile(0.99', 'curator_jobs_failed_total', 'curator_queue_depth'])
    assert.ok(overview.includes(needle), `overview lacks ${needle}`);
  const fleet = text('curator-gpu-fleet');
  for (const needle of ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'curator_batch_size', 'curator_stage_duration_seconds', 'curator_inference_busy_seconds_total'])
    assert.ok(fleet.includes(needle), `GPU fleet lacks ${needle}`);
});
