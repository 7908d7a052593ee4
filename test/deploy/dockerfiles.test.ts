// Dockerfile checks without a Docker engine. hadolint is on neither npm nor Debian, so: dockerfile-utils (the
// linter of the VS Code Docker language server) for syntax and instruction errors, then our own rules: pinned
// base images, non-root USER, HEALTHCHECK, production dependencies only, the right entry point. If hadolint
// is on PATH anyway, it runs too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { DockerfileParser } from 'dockerfile-ast';
import { readRepoFile, repoRoot } from './helpers.ts';
import { installedClosure, workspacesInstalledBy } from './dependency-closure.ts';

interface Stage {
  name: string;
  base: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/**
 * Stages whose installs never reach the image: the final stage copies only build output from them
 * (the web studio's static files), never their node_modules.
 */
const buildOutputStages: Record<string, string> = { web: '/src/apps/web/dist' };

/** The stages whose dependency installs end up in the image. */
function installStages(stages: Stage[]): Stage[] {
  return stages.filter((s) => !(s.name in buildOutputStages));
}

function parseDockerfile(path: string): { text: string; stages: Stage[] } {
  const text = readRepoFile(path);
  const dockerfile = DockerfileParser.parse(text);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword().toUpperCase();
    // Flags (--from=, --chown=) are not part of dockerfile-ast's arguments: put them back in front.
    const flags = 'getFlags' in instruction ? (instruction as unknown as { getFlags(): Array<{ toString(): string }> }).getFlags().map(String) : [];
    const content = [...flags, instruction.getArgumentsContent() ?? ''].join(' ').trim();
    if (keyword === 'FROM') {
      const [image = '', , alias] = content.split(/\s+/);
      const base = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args.get(a ?? b) ?? `<unset ${a ?? b}>`);
      stages.push({ name: alias ?? `#${stages.length}`, base, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (!current && keyword === 'ARG') {
      const [name, value] = content.split('=');
      if (name && value !== undefined) args.set(name, value);
    }
    current?.instructions.push({ keyword, args: content });
  }
  return { text, stages };
}

const dockerfiles = {
  gateway: { path: 'docker/gateway.Dockerfile', finals: ['runtime'], app: 'gateway' },
  worker: { path: 'docker/worker.Dockerfile', finals: ['cpu', 'cuda'], app: 'worker' },
} as const;

/** Each stage's own instructions plus those of the stages it is built FROM (ENV, USER are inherited). */
function lineage(stages: Stage[], stage: Stage): Stage[] {
  const parent = stages.find((s) => s.name === stage.base);
  return parent ? [...lineage(stages, parent), stage] : [stage];
}

for (const [name, { path, finals, app }] of Object.entries(dockerfiles)) {
  test(`${name}: dockerfile-utils finds no problem`, () => {
    const { text } = parseDockerfile(path);
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
  });

  test(`${name}: every base image is a stage or pinned to a version`, () => {
    const { stages } = parseDockerfile(path);
    for (const stage of stages) {
      if (stages.some((s) => s.name === stage.base)) continue;
      const [, tag] = stage.base.split('/').at(-1)?.split(':') ?? [];
      assert.ok(tag && tag !== 'latest' && /^\d+\.\d+/.test(tag), `${stage.name}: ${stage.base} is not pinned to a version`);
    }
  });

  test(`${name}: final images run as non-root with a HEALTHCHECK and node apps/${app}/src/main.ts`, () => {
    const { stages } = parseDockerfile(path);
    for (const finalName of finals) {
      const stage = stages.find((s) => s.name === finalName);
      assert.ok(stage, `stage ${finalName}`);
      const chain = lineage(stages, stage).flatMap((s) => s.instructions);
      const user = chain.filter((i) => i.keyword === 'USER').at(-1)?.args;
      assert.ok(user && !/^(root|0)(:|$)/.test(user), `${finalName}: USER ${user ?? '(none: root)'}`);
      const healthcheck = chain.filter((i) => i.keyword === 'HEALTHCHECK').at(-1)?.args ?? '';
      assert.match(healthcheck, /\/healthz/, `${finalName}: HEALTHCHECK on /healthz`);
      assert.equal(chain.filter((i) => i.keyword === 'CMD').at(-1)?.args, `["node", "apps/${app}/src/main.ts"]`);
      assert.ok(chain.some((i) => i.keyword === 'EXPOSE'), `${finalName}: EXPOSE`);
    }
  });

  test(`${name}: dependencies are installed with npm ci, production only, for the needed workspaces`, () => {
    const { stages } = parseDockerfile(path);
    const installs = installStages(stages).flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /npm (ci|install)\b/.test(i.args));
    assert.ok(installs.length > 0);
    for (const run of installs) {
      assert.match(run.args, /npm ci\b/, 'npm ci (the lockfile), never npm install');
      assert.match(run.args, /--omit=dev/);
      assert.match(run.args, new RegExp(`-w apps/${app}\\b`));
    }
  });

  test(`${name}: every COPY source from the build context exists`, () => {
    const { stages } = parseDockerfile(path);
    for (const copy of stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
      const parts = copy.args.replace(/--\S+/g, '').trim().split(/\s+/);
      for (const source of parts.slice(0, -1)) assert.ok(existsSync(join(repoRoot, source)), `COPY ${source}`);
    }
  });
}

test('stages that only build files give the image nothing but their output', () => {
  for (const [name, { path }] of Object.entries(dockerfiles)) {
    const { stages } = parseDockerfile(path);
    const final = stages.at(-1)!;
    for (const copy of final.instructions.filter((i) => i.keyword === 'COPY')) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      if (!from || !(from in buildOutputStages)) continue;
      const [source] = copy.args.replace(/--\S+/g, '').trim().split(/\s+/);
      assert.equal(source, buildOutputStages[from], `${name}: COPY --from=${from} copies its build output only`);
    }
  }
});

// Packages that are for `npm start` and tests only. The embedded S3 server (and the wrapper around it) is named here
// by the package it wraps, read from packages/embedded-s3, so swapping the server keeps this check meaningful.
const embeddedS3Server = Object.keys(JSON.parse(readRepoFile('packages/embedded-s3/package.json')).dependencies ?? {}).filter((name) => /s3rver|fauxqs|s3/i.test(name) && !name.startsWith('@smithy/'));
const notInImages = ['@curator/embedded-s3', ...embeddedS3Server, 's3rver', 'fauxqs', '@curator/testkit'];

/** The manifests stage removes every workspace's devDependencies before npm ci (npm never flags a workspace as dev). */
function omitsWorkspaceDevDependencies(stages: Stage[]): boolean {
  const manifests = stages.find((s) => s.name === 'manifests');
  return manifests?.instructions.some((i) => i.keyword === 'RUN' && /node \/tmp\/omit-workspace-dev-dependencies\.mjs\b/.test(i.args)) ?? false;
}

for (const [name, { path }] of Object.entries(dockerfiles)) {
  test(`${name}: the image's dependency closure holds no embedded S3 server and no test helpers`, () => {
    const { stages } = parseDockerfile(path);
    const installs = installStages(stages).flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args));
    assert.ok(installs.length > 0);
    const omitsDev = omitsWorkspaceDevDependencies(stages);
    assert.ok(omitsDev, 'the manifests stage runs docker/omit-workspace-dev-dependencies.mjs');
    for (const install of installs) {
      const workspaces = workspacesInstalledBy(install.args);
      assert.ok(workspaces.length > 0, `${install.args}: installs named workspaces only`);
      const closure = installedClosure(repoRoot, workspaces, { workspaceDevDependencies: !omitsDev });
      const found = notInImages.filter((pkg) => closure.has(pkg)).map((pkg) => `${pkg} (via ${closure.get(pkg)!.join(' -> ')})`);
      assert.deepEqual(found, [], `${name} image (npm ci -w ${workspaces.join(' -w ')}) would contain test-only packages`);
      assert.ok(closure.has('@aws-sdk/client-s3'), 'the closure is real: the S3 client is in it');
    }
  });
}

test("the gateway image holds none of the worker's parts: no model runtime, no HTML extraction", () => {
  const closure = installedClosure(repoRoot, ['apps/gateway'], { workspaceDevDependencies: false });
  const found = ['onnxruntime-node', 'jsdom', '@curator/articles', '@curator/inference'].filter((pkg) => closure.has(pkg)).map((pkg) => `${pkg} (via ${closure.get(pkg)!.join(' -> ')})`);
  assert.deepEqual(found, []);
});

test('the closure check can fail: with workspace devDependencies kept, npm would put the embedded S3 server in the gateway image', () => {
  assert.ok(embeddedS3Server.length > 0, 'packages/embedded-s3 names the server it wraps');
  const closure = installedClosure(repoRoot, ['apps/gateway'], { workspaceDevDependencies: true });
  for (const pkg of ['@curator/embedded-s3', ...embeddedS3Server]) assert.ok(closure.has(pkg), `${pkg} reached through a devDependency`);
  // Production dependencies alone do not reach it: @curator/storage needs only the AWS SDK.
  const storage = installedClosure(repoRoot, ['packages/storage'], { workspaceDevDependencies: false });
  assert.deepEqual(notInImages.filter((pkg) => storage.has(pkg)), []);
});

test('gateway: Node 24 on Debian bookworm slim', () => {
  const { stages } = parseDockerfile(dockerfiles.gateway.path);
  for (const stage of stages) assert.match(stage.base, /^node:24\.\d+\.\d+-bookworm-slim$/);
});

test('worker: CUDA 12 + cuDNN runtime with onnxruntime-node for CUDA 12; a Debian CPU variant with the install skipped', () => {
  const { stages } = parseDockerfile(dockerfiles.worker.path);
  const stage = (n: string) => stages.find((s) => s.name === n) as Stage;
  assert.match(stage('cuda').base, /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu22\.04$/);
  assert.ok(stage('cuda').instructions.some((i) => i.keyword === 'COPY' && i.args.includes('/usr/local/bin/node')), 'Node copied from the official image');
  assert.match(lineage(stages, stage('cpu'))[0]?.base ?? '', /^node:24\.\d+\.\d+-bookworm-slim$/);
  const env = (n: string) => lineage(stages, stage(n)).flatMap((s) => s.instructions).filter((i) => i.keyword === 'ENV').map((i) => i.args).join('\n');
  assert.match(env('deps-cuda'), /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  assert.match(env('deps-cpu'), /ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.match(env('cuda'), /MODELS_DIR=\/models/);
  assert.match(env('cpu'), /MODELS_DIR=\/models/);
  for (const deps of ['deps-cpu', 'deps-cuda']) {
    const runs = stage(deps).instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const allow = runs.findIndex((r) => /allow-scripts=onnxruntime-node\\n' >> \/root\/\.npmrc/.test(r));
    const install = runs.findIndex((r) => /npm ci\b/.test(r));
    // npm 11 skips dependency install scripts unless allowed (and refuses --allow-scripts in a project install);
    // onnxruntime-node's is the one that fetches the CUDA provider.
    assert.ok(allow >= 0 && allow < install, `${deps}: onnxruntime-node's install script is allowed before npm ci`);
    assert.doesNotMatch(runs[install] ?? '', /--allow-scripts/);
    assert.match(runs[install] ?? '', /-w apps\/cli/, 'the CLI is in the image for `models pull`');
  }
  assert.ok(stage('cuda').instructions.some((i) => i.keyword === 'COPY' && i.args.includes('--from=deps-cuda')));
  assert.ok(stage('cpu').instructions.some((i) => i.keyword === 'COPY' && i.args.includes('--from=deps-cpu')));
  assert.ok(stage('cuda').instructions.some((i) => i.keyword === 'VOLUME' && i.args.includes('/models')));
  assert.equal(stages.at(-1)?.name, 'cuda', 'a plain `docker build` gives the GPU image');
});

test('the policy checks catch a root image without a HEALTHCHECK (they can fail)', () => {
  const stages: Stage[] = [{ name: 'bad', base: 'node:latest', instructions: [{ keyword: 'CMD', args: '["node"]' }] }];
  const chain = lineage(stages, stages[0] as Stage).flatMap((s) => s.instructions);
  assert.equal(chain.find((i) => i.keyword === 'USER'), undefined);
  assert.equal(chain.find((i) => i.keyword === 'HEALTHCHECK'), undefined);
  assert.notDeepEqual(validate('FROM node:24\nEXPOSE notaport\nHEALTHCHECK --interval=abc CMD true\n'), []);
});

test('.dockerignore keeps dependencies, secrets and git history out of the build context', () => {
  const ignore = readRepoFile('.dockerignore').split('\n').map((l) => l.trim());
  for (const entry of ['.git', '**/node_modules', '.env', '/models']) assert.ok(ignore.includes(entry), entry);
});

const hadolint = spawnSync('hadolint', ['--version'], { encoding: 'utf8' }).status === 0;
test('hadolint (when installed) finds no error', { skip: hadolint ? false : 'hadolint not installed (not on npm or Debian): the checks above stand in' }, () => {
  for (const { path } of Object.values(dockerfiles)) {
    const run = spawnSync('hadolint', ['--failure-threshold', 'error', path], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  }
});
