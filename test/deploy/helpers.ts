// Shared by the deployment checks: file access from the repo root, YAML, PromQL metric names, promtool.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYamlText } from 'yaml';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { createMetrics } from '@curator/telemetry';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const readRepoFile = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');

/** `<<` merge keys are resolved, as Docker Compose does. */
export const parseYaml = (text: string): unknown => parseYamlText(text, { merge: true });

export function yamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readRepoFile(path), { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

export const listRepoDir = (path: string): string[] => readdirSync(join(repoRoot, path)).sort();

/** Grafana's variables made concrete, so the query is plain PromQL. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?(\w+)\}?/g, '.*');
}

export interface PromqlReport {
  metricNames: string[];
  errors: string[];
}

/** Parses PromQL with Prometheus' own grammar (the one its UI uses) and lists the metric names it selects. */
export function analysePromql(expr: string): PromqlReport {
  const tree = promqlParser.parse(expr);
  const metricNames: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 20), node.to + 20))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metricNames.push(expr.slice(node.from, node.to));
    },
  });
  return { metricNames, errors };
}

let knownNames: Set<string> | undefined;

/** Every series name Curator's processes expose (histograms with their suffixes) plus the exporters' known names. */
export async function knownMetricNames(): Promise<Set<string>> {
  if (knownNames) return knownNames;
  const names = new Set<string>();
  const metrics = await createMetrics({ process: 'all' }).registry.getMetricsAsJSON();
  for (const m of metrics) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    if (String(m.type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(m.name + suffix);
  }
  const exporters = JSON.parse(readRepoFile('test/deploy/exporter-metrics.json')) as Record<string, string[] | string>;
  for (const [key, list] of Object.entries(exporters)) if (!key.startsWith('_') && Array.isArray(list)) for (const n of list) names.add(n);
  knownNames = names;
  return names;
}

/**
 * promtool from PATH (Debian's `prometheus` package, listed in .ci/apt-packages). Missing outside CI: undefined,
 * and the caller skips loudly. Missing in CI: a failure, never a skip.
 */
export function findPromtool(): string | undefined {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return 'promtool';
  if (process.env.CI) throw new Error('promtool is not installed, and CI must run the Prometheus checks: add `prometheus` to .ci/apt-packages');
  process.stderr.write('\n*** promtool NOT FOUND: Prometheus config and rule checks SKIPPED. Install it: apt-get install prometheus ***\n\n');
  return undefined;
}

export function runPromtool(promtool: string, args: string[]): { status: number | null; output: string } {
  const run = spawnSync(promtool, args, { cwd: repoRoot, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
