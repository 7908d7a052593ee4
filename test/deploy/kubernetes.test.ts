// deploy/k8s validated against the Kubernetes and KEDA OpenAPI schemas that the kubernetes-models and
// @kubernetes-models/keda packages compile (types, required fields, enums, formats; like kubeconform, which
// is on neither npm nor Debian), plus the structural rules of issue 6 the schemas cannot express.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { analysePromql, knownMetricNames, repoRoot, yamlDocuments } from './helpers.ts';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

const models: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

const [kustomization] = yamlDocuments('deploy/k8s/kustomization.yaml') as [{ resources: string[]; namespace: string }];
const manifests: Array<Manifest & { file: string }> = kustomization.resources.flatMap((file) =>
  (yamlDocuments(`deploy/k8s/${file}`) as Manifest[]).filter(Boolean).map((m) => ({ ...m, file })),
);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const deployment = (name: string) => byKind('Deployment').find((d) => d.metadata.name === name);

function validate(manifest: Manifest): void {
  const Model = models[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  const { file: _file, ...data } = manifest as Manifest & { file?: string };
  new Model(data).validate();
}

test('every kustomization resource exists and every manifest is valid against its schema', () => {
  for (const file of kustomization.resources) assert.ok(existsSync(join(repoRoot, 'deploy/k8s', file)), file);
  assert.ok(manifests.length >= 10);
  for (const m of manifests) assert.doesNotThrow(() => validate(m), `${m.file}: ${m.kind} ${m.metadata?.name}`);
});

test('the schema check rejects a wrong manifest (it can fail)', () => {
  const gateway = structuredClone(deployment('curator-gateway')) as Manifest;
  gateway.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
  assert.throws(() => validate(gateway), /containerPort/);
  const scaled = structuredClone(byKind('ScaledObject')[0]) as Manifest;
  delete scaled.spec.scaleTargetRef;
  assert.throws(() => validate(scaled), /scaleTargetRef/);
});

test('names are unique per kind and selectors match their pod labels', () => {
  const keys = manifests.map((m) => `${m.kind}/${m.metadata.name}`);
  assert.equal(new Set(keys).size, keys.length);
  for (const d of byKind('Deployment')) {
    const labels = d.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) assert.equal(labels[k], v, `${d.metadata.name} selector ${k}`);
  }
  const service = byKind('Service').find((s) => s.metadata.name === 'curator-gateway');
  const gatewayLabels = deployment('curator-gateway')?.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(service?.spec.selector as Record<string, string>)) assert.equal(gatewayLabels[k], v);
});

test('text and image workers take GPUs on the tainted pool and get time to finish their jobs', () => {
  for (const pool of ['text', 'image']) {
    const d = deployment(`curator-worker-${pool}`);
    assert.ok(d, `worker deployment for ${pool}`);
    const pod = d.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.resources.limits['nvidia.com/gpu'], 1);
    assert.ok(pod.tolerations.some((t: any) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'));
    assert.ok(container.env.some((e: any) => e.name === 'WORKER_POOLS' && e.value === pool));
    assert.ok(pod.terminationGracePeriodSeconds >= 300, `${pool}: grace period covers the longest job`);
    assert.ok(container.volumeMounts.some((v: any) => v.mountPath === '/models' && v.readOnly));
    assert.ok(container.ports.some((p: any) => p.containerPort === 9464));
    assert.equal(pod.securityContext.runAsNonRoot, true);
  }
  const image = deployment('curator-worker-image')?.spec.template.spec.terminationGracePeriodSeconds;
  const text = deployment('curator-worker-text')?.spec.template.spec.terminationGracePeriodSeconds;
  assert.ok(image >= text, 'image jobs are the longest');
});

test('Redis and S3 are external: configured by ConfigMap and Secret, not deployed', () => {
  for (const m of manifests) assert.ok(!/redis|s3|minio|seaweed/i.test(m.kind === 'Deployment' ? m.metadata.name : ''), m.metadata.name);
  const config = byKind('ConfigMap').find((c) => c.metadata.name === 'curator-config');
  const secret = byKind('Secret').find((s) => s.metadata.name === 'curator-secrets');
  assert.ok(config?.data?.S3_ENDPOINT);
  assert.ok(secret?.stringData?.REDIS_URL);
  assert.ok(secret?.stringData?.S3_SECRET_ACCESS_KEY);
});

test('KEDA scales each worker pool on waiting + prioritized jobs from curator_queue_depth, not on bull:<q>:wait', async () => {
  const known = await knownMetricNames();
  const scaled = byKind('ScaledObject');
  assert.deepEqual(scaled.map((s) => s.spec.scaleTargetRef.name).sort(), ['curator-worker-image', 'curator-worker-text']);
  for (const s of scaled) {
    assert.ok(deployment(s.spec.scaleTargetRef.name), `${s.metadata.name} targets an existing Deployment`);
    const pool = s.spec.scaleTargetRef.name.replace('curator-worker-', '');
    for (const trigger of s.spec.triggers) {
      assert.equal(trigger.type, 'prometheus');
      const query: string = trigger.metadata.query;
      assert.doesNotMatch(query, /bull:/);
      assert.ok(query.includes(`queue="${pool}"`), query);
      assert.ok(query.includes('state=~"waiting|prioritized"'), query);
      const { metricNames, errors } = analysePromql(query);
      assert.deepEqual(errors, []);
      assert.deepEqual(metricNames, ['curator_queue_depth']);
      for (const n of metricNames) assert.ok(known.has(n));
      assert.ok(Number(trigger.metadata.threshold) > 0);
    }
  }
});
