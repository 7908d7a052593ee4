// The README's first command on a fresh machine: `npm install` downloads no CUDA files, and on a
// Node too old to run the sources it says so, and how to fix it, before anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test(".npmrc tells onnxruntime-node's install script to skip the CUDA download, in the setting name it reads", () => {
  assert.match(readFileSync(`${root}/.npmrc`, 'utf8'), /^onnxruntime-node-install=skip$/m);
  // Run as npm runs install scripts (npm turns .npmrc settings into npm_config_* variables), ask
  // onnxruntime-node's own parser what it would install: `false` is its "skip".
  const env = { ...process.env };
  delete env.ONNXRUNTIME_NODE_INSTALL;
  delete env.npm_config_onnxruntime_node_install;
  const probe = "console.log(JSON.stringify(require('onnxruntime-node/script/install-utils.js').parseInstallFlag()))";
  const out = execFileSync(npm, ['exec', '--yes=false', '-c', `node -e "${probe}"`], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(out.trim().split('\n').at(-1), 'false');
});

test('`npm run gpu:install` asks for cuda12 explicitly (the GPU image does the same)', () => {
  const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
  assert.equal(pkg.scripts['gpu:install'], 'node scripts/gpu-install.mjs');
  assert.match(readFileSync(`${root}/scripts/gpu-install.mjs`, 'utf8'), /ONNXRUNTIME_NODE_INSTALL: 'cuda12'/);
  assert.match(readFileSync(`${root}/docker/worker.Dockerfile`, 'utf8'), /ONNXRUNTIME_NODE_INSTALL=cuda12/);
});

/** A Node older than 22.18 on this machine (Debian's system Node), if there is one. */
function oldNode(): string | null {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue;
    const [major, minor] = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
    if (major! < 22 || (major === 22 && minor! < 18)) return candidate;
  }
  return null;
}

test('on a Node older than 22.18 the first thing `npm install` does is say so, and how to fix it', (t) => {
  const node = oldNode();
  if (!node) return t.skip('no Node older than 22.18 on this machine');
  const bin = node.slice(0, node.lastIndexOf('/'));
  // npm runs the root project's preinstall script with the Node on PATH.
  const result = spawnSync(npm, ['run', 'preinstall'], { cwd: root, env: { PATH: `${bin}:/usr/bin:/bin`, HOME: process.env.HOME ?? '/tmp' }, encoding: 'utf8' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /Curator needs Node\.js 22\.18 or newer/);
  assert.match(result.stderr, /\. scripts\/ensure-node\.sh && npm install/);
  // With a current Node the same step passes silently.
  const current = spawnSync(npm, ['run', 'preinstall', '--silent'], { cwd: root, encoding: 'utf8' });
  assert.equal(current.status, 0, current.stderr);
});
