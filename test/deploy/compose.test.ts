// compose.yaml against the Compose Specification schema (vendored), plus what the schema cannot know:
// start order, GPU reservation, profiles, pinned images, and that .env.example documents every variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { variables } from '@curator/config';
import { parseYaml, readRepoFile } from './helpers.ts';

type Service = {
  image?: string;
  build?: { dockerfile?: string; target?: string };
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  environment?: Record<string, string>;
  volumes?: string[];
  deploy?: { replicas?: unknown; resources?: { reservations?: { devices?: Array<{ driver?: string; count?: unknown; capabilities?: string[] }> } } };
  command?: unknown;
  stop_grace_period?: string;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

function envExample(): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of readRepoFile('.env.example').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) values.set(match[1] as string, match[2] as string);
  }
  return values;
}

/**
 * Compose's interpolation rules: `$$` is a literal `$`; `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
 * `$VAR`; defaults may nest (`${A:-${B:-x}}`), resolved innermost first.
 */
function interpolate(value: unknown, env: Map<string, string>, used: Set<string>): unknown {
  if (typeof value === 'string') {
    const literalDollar = '\u0000';
    let text = value.replaceAll('$$', literalDollar);
    const expression = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^{}$]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
    for (let previous = ''; previous !== text; ) {
      previous = text;
      text = text.replace(expression, (_whole, braced, op, arg, bare) => {
        const name = (braced ?? bare) as string;
        used.add(name);
        const set = env.get(name);
        if (op === ':-') return set ? set : (arg as string);
        if (op === '-') return set ?? (arg as string);
        if (op?.endsWith('?') && !set) throw new Error(`required variable ${name} is unset`);
        return set ?? '';
      });
    }
    return text.replaceAll(literalDollar, '$');
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, used));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, used)]));
  return value;
}

test('interpolation follows Compose: defaults, nesting, literal $$', () => {
  const env = new Map([['SET', 'x'], ['EMPTY', '']]);
  const used = new Set<string>();
  assert.equal(interpolate('${SET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}/$SET/$$SET', env, used), 'x/d//d/x/$SET');
  assert.equal(interpolate('${UNSET:-${SET:-y}}', env, used), 'x');
  assert.equal(interpolate('${UNSET:-${EMPTY:-y}}', env, used), 'y');
  assert.deepEqual([...used].sort(), ['EMPTY', 'SET', 'UNSET']);
});

function validator() {
  const schema = JSON.parse(readRepoFile('test/deploy/schemas/compose-spec.schema.json')) as Record<string, unknown>;
  delete schema.$schema; // draft-07, Ajv's default; the https spelling of its id is not registered in Ajv
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}

function loadCompose(): { raw: Compose; resolved: Compose; used: Set<string> } {
  const raw = parseYaml(readRepoFile('compose.yaml')) as Compose;
  const used = new Set<string>();
  const resolved = interpolate(raw, envExample(), used) as Compose;
  return { raw, resolved, used };
}

test('compose.yaml is valid against the Compose Specification schema', () => {
  const validate = validator();
  const { resolved } = loadCompose();
  assert.doesNotMatch(JSON.stringify(resolved), /\$\{/, 'every variable is resolved');
  const ok = validate(resolved);
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
});

test('the schema check rejects a broken compose file (it can fail)', () => {
  const validate = validator();
  const { resolved } = loadCompose();
  const broken = structuredClone(resolved) as Compose & Record<string, unknown>;
  (broken.services.gateway as Record<string, unknown>).depends_on = { redis: { condition: 'when_it_feels_like_it' } };
  assert.equal(validate(broken), false);
  const misspelled = { ...structuredClone(resolved), servces: {} };
  assert.equal(validate(misspelled), false);
});

test('services start in dependency order on health, and every dependency exists', () => {
  const { resolved } = loadCompose();
  const services = resolved.services;
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      assert.ok(services[dependency], `${name} depends on missing ${dependency}`);
      if (condition === 'service_healthy') {
        const check = services[dependency]?.healthcheck;
        const hasOwn = check?.test !== undefined && check.disable !== true;
        const imageHasOne = services[dependency]?.build?.dockerfile !== undefined;
        assert.ok(hasOwn || imageHasOne, `${name} waits for ${dependency} to be healthy, which has no healthcheck`);
      }
    }
  }
  const waitsFor = (service: string, dependency: string, condition: string) =>
    assert.equal(services[service]?.depends_on?.[dependency]?.condition, condition, `${service} -> ${dependency}`);
  waitsFor('gateway', 'redis', 'service_healthy');
  waitsFor('gateway', 's3-init', 'service_completed_successfully');
  waitsFor('s3-init', 's3', 'service_healthy');
  for (const worker of ['worker', 'worker-cpu']) {
    waitsFor(worker, 'redis', 'service_healthy');
    waitsFor(worker, 'models', 'service_completed_successfully');
    waitsFor(worker, 's3-init', 'service_completed_successfully');
  }
  waitsFor('grafana', 'prometheus', 'service_healthy');
  for (const name of ['redis', 's3', 'gateway', 'prometheus', 'grafana']) {
    assert.ok(services[name]?.healthcheck?.test, `${name} has a healthcheck`);
  }
});

test('redis persists with AOF; models are prepared once by the CLI into the shared volume', () => {
  const { resolved } = loadCompose();
  const { redis, models, worker } = resolved.services;
  assert.ok(JSON.stringify(redis?.command).includes('"--appendonly","yes"'));
  // Pull and convert (or, with CURATOR_MODELS=test, write the test set), both precisions for CPU and GPU workers.
  assert.deepEqual(models?.command, ['node', 'apps/cli/src/main.ts', 'models', 'prepare', '--precision', 'fp32,fp16']);
  assert.ok(models?.volumes?.includes('models:/models'));
  assert.ok(worker?.volumes?.includes('models:/models:ro'));
  assert.ok(resolved.volumes && 'models' in resolved.volumes);
});

test('the GPU worker reserves an NVIDIA GPU and is replicated; profiles split GPU and CPU', () => {
  const { resolved } = loadCompose();
  const { worker, 'worker-cpu': workerCpu, 'dcgm-exporter': dcgm } = resolved.services;
  const device = worker?.deploy?.resources?.reservations?.devices?.[0];
  assert.equal(device?.driver, 'nvidia');
  assert.ok(device?.capabilities?.includes('gpu'));
  assert.ok(device?.count !== undefined);
  assert.ok(worker?.deploy?.replicas !== undefined);
  assert.deepEqual(worker?.profiles, ['gpu']);
  assert.deepEqual(dcgm?.profiles, ['gpu']);
  assert.deepEqual(workerCpu?.profiles, ['cpu']);
  assert.equal(workerCpu?.build?.target, 'cpu');
  assert.equal(workerCpu?.deploy?.resources, undefined, 'the CPU worker reserves no GPU');
  assert.ok(worker?.stop_grace_period, 'workers get time to finish running jobs');
  const alwaysOn = Object.entries(resolved.services).filter(([, s]) => !s.profiles).map(([n]) => n);
  for (const name of ['redis', 's3', 's3-init', 'models', 'gateway', 'prometheus', 'grafana', 'redis-exporter']) assert.ok(alwaysOn.includes(name), name);
});

test('third-party images are pinned to a version, never latest', () => {
  const { resolved } = loadCompose();
  for (const [name, service] of Object.entries(resolved.services)) {
    if (service.build) continue; // Curator's own images, tagged by CURATOR_TAG
    const image = service.image ?? '';
    const tag = image.split('/').at(-1)?.split(':')[1];
    assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `${name}: ${image} is not pinned`);
  }
});

test('.env.example documents every Curator variable and every variable compose.yaml uses', () => {
  const documented = envExample();
  for (const name of Object.keys(variables)) assert.ok(documented.has(name), `.env.example lacks ${name}`);
  const { used } = loadCompose();
  // Container-side variables the s3 and s3-init commands read at run time ($$VAR in compose.yaml).
  for (const name of used) assert.ok(documented.has(name), `compose.yaml uses \${${name}}, which .env.example does not document`);
  assert.equal(documented.get('PORT'), '8080');
  assert.equal(documented.get('WORKER_METRICS_PORT'), '9464');
});
