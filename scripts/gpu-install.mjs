// `npm run gpu:install`: adds onnxruntime-node's CUDA 12 execution provider on a Linux x64 machine with an
// NVIDIA GPU. A plain `npm install` leaves it out (.npmrc: onnxruntime-node-install=skip): the files come
// from NuGet (api.nuget.org), outside the npm registry, and a laptop does not want them. This runs
// onnxruntime-node's own install script asking for cuda12, as the GPU image does.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

if (`${process.platform}/${process.arch}` !== 'linux/x64') {
  console.error(`onnxruntime-node has a CUDA 12 provider for linux/x64 only; this is ${process.platform}/${process.arch}. The CPU build needs nothing more.`);
  process.exit(1);
}
const require = createRequire(new URL('../packages/inference/package.json', import.meta.url));
const root = dirname(require.resolve('onnxruntime-node/package.json'));
console.log(`Fetching the CUDA 12 execution provider of onnxruntime-node ${require('onnxruntime-node/package.json').version} from NuGet...`);
const result = spawnSync(process.execPath, ['script/install.js'], { cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' } });
if (result.status !== 0) {
  console.error(
    '\nCould not install the CUDA provider (see above). It needs https://api.nuget.org; behind a proxy set\n' +
      'GLOBAL_AGENT_HTTPS_PROXY. Without it Curator runs on the CPU (CURATOR_DEVICE=auto falls back).',
  );
  process.exit(result.status ?? 1);
}
console.log('Done: with CURATOR_DEVICE=auto (or cuda) the worker now runs the models on the GPU; its "worker ready" log line names the device.');
