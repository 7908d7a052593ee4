// A stopping worker finishes its jobs for WORKER_SHUTDOWN_GRACE_MS, then hands the rest back to the
// queue; the platform must not SIGKILL it before that is done. The code's default, compose.yaml,
// the Kubernetes manifests and docs/deployment.md must agree on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEnv, shutdownMarginMs, variables } from '@curator/config';
import { parseYaml, readRepoFile, yamlDocuments } from './helpers.ts';

type Container = { name: string; env?: Array<{ name: string; value?: string }> };
type Deployment = { kind: string; metadata: { name: string }; spec: { template: { spec: { terminationGracePeriodSeconds?: number; containers: Container[] } } } };
type ComposeService = { environment?: Record<string, string>; stop_grace_period?: string };

const envExample = new Map(
  readRepoFile('.env.example')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]),
);

/** `${VAR:-default}` as compose resolves it with .env.example as the .env file. */
function resolve(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+):-([^}]*)\}/g, (_all, name: string, fallback: string) => envExample.get(name) || fallback);
}

/** Compose durations: 10m, 90s, 1m30s. */
function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(h|m|s|ms)/g)) total += Number(amount) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit as 'h' | 'm' | 's' | 'ms'];
  assert.ok(total > 0, `a duration: ${text}`);
  return total;
}

const docs = readRepoFile('docs/deployment.md');
const defaultGraceMs = loadEnv({}).WORKER_SHUTDOWN_GRACE_MS;

test('the default grace and the margin the platforms add are stated once, in packages/config', () => {
  assert.equal(variables.WORKER_SHUTDOWN_GRACE_MS.default, String(defaultGraceMs));
  assert.match(variables.WORKER_SHUTDOWN_GRACE_MS.doc, new RegExp(`${shutdownMarginMs / 1000} s`));
  assert.ok(docs.includes(`${defaultGraceMs / 1000} s`) && docs.includes('WORKER_SHUTDOWN_GRACE_MS'), 'docs/deployment.md states the default');
});

test('compose: each worker is given its grace plus the margin before Docker kills it, and the docs say so', () => {
  const compose = parseYaml(readRepoFile('compose.yaml')) as { services: Record<string, ComposeService> };
  for (const name of ['worker', 'worker-cpu']) {
    const service = compose.services[name]!;
    const grace = Number(resolve(String(service.environment?.WORKER_SHUTDOWN_GRACE_MS ?? defaultGraceMs)));
    const stop = durationMs(resolve(service.stop_grace_period ?? '10s'));
    assert.ok(grace > defaultGraceMs, `${name}: sets WORKER_SHUTDOWN_GRACE_MS for long jobs`);
    assert.equal(stop, grace + shutdownMarginMs, `${name}: stop_grace_period ${stop} ms = WORKER_SHUTDOWN_GRACE_MS ${grace} ms + ${shutdownMarginMs} ms`);
    assert.ok(docs.includes(`${grace / 1000} s`) && docs.includes(`${stop / 1000} s`), `docs/deployment.md gives compose's ${grace / 1000} s and ${stop / 1000} s`);
  }
});

test('Kubernetes: each worker Deployment sets its grace, and terminationGracePeriodSeconds adds the margin; the docs say so', () => {
  const deployments = ['deploy/k8s/worker-text.yaml', 'deploy/k8s/worker-image.yaml'].flatMap((file) => yamlDocuments(file) as Deployment[]).filter((d) => d.kind === 'Deployment');
  assert.equal(deployments.length, 2);
  for (const deployment of deployments) {
    const pod = deployment.spec.template.spec;
    const container = pod.containers.find((c) => c.name === 'worker')!;
    const grace = Number(container.env?.find((e) => e.name === 'WORKER_SHUTDOWN_GRACE_MS')?.value ?? defaultGraceMs);
    const termination = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
    assert.equal(termination, grace + shutdownMarginMs, `${deployment.metadata.name}: terminationGracePeriodSeconds ${termination / 1000} s = grace ${grace / 1000} s + margin`);
    assert.ok(docs.includes(`${grace / 1000} s`) && docs.includes(`${termination / 1000} s`), `docs/deployment.md gives ${deployment.metadata.name}'s ${grace / 1000} s and ${termination / 1000} s`);
  }
});
