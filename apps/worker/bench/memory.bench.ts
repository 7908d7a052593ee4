// `npm run bench -- apps/worker/bench/memory.bench.ts`: resident memory of one worker process with
// every model loaded (each once, in its own inference thread), on generated models of the real
// sizes where the generator makes them: BERTweet-base / BERT-base sized classifiers (with the test
// tokenizers' small vocabularies) and t5-small sized T5s. The Stable Diffusion export is the small
// test one: the generator has no full-size UNet, so add the real UNet's size by hand.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdir, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnv } from '@curator/config';
import { createLogger, createMetrics } from '@curator/telemetry';
import { ensureTestModels } from '@curator/models';
import { writeTestSentimentModel, writeTestGenreModel, writeTestT5, t5SmallConfig } from '@curator/testmodels';
import { ModelHost } from '../src/index.ts';

const root = join(process.env.CURATOR_BENCH_CACHE ?? join(tmpdir(), 'curator-bench'), 'worker-memory-models');
const dir = (role: string) => join(root, 'curator-test', role);
const base = { hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072, precisions: ['fp32' as const] };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
async function sizeOf(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

if (!process.argv.includes('--measure')) {
await mkdir(root, { recursive: true });
if (!(await exists(join(dir('sentiment'), 'model.onnx')))) await writeTestSentimentModel(dir('sentiment'), base);
if (!(await exists(join(dir('genre'), 'model.onnx')))) await writeTestGenreModel(dir('genre'), base);
for (const role of ['summarizer', 'headline']) {
  if (!(await exists(join(dir(role), 'onnx', 'encoder_model.onnx')))) await writeTestT5(dir(role), t5SmallConfig, { layouts: ['merged'], precisions: ['fp32'], seed: role === 'headline' ? 9 : 5 });
}
await ensureTestModels(root, ['image']);
// Measure in a fresh process: generating the models above leaves this one's heap large.
const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure'], { stdio: 'inherit' });
process.exit(child.status ?? 1);
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
globalThis.gc?.();
const before = process.memoryUsage().rss;
const env = loadEnv({ ...process.env, MODELS_DIR: root, CURATOR_MODELS: 'test', CURATOR_DEVICE: 'cpu' });
const host = await ModelHost.load({
  pools: ['text', 'image'],
  jobTypes: ['curate', 'classify', 'summarize', 'headline', 'text-to-image'],
  modelsDir: root,
  set: 'test',
  overrides: {},
  device: 'cpu',
  deviceId: 0,
  logger: createLogger('bench', 'warn'),
  metrics: createMetrics({ process: 'worker' }),
  batching: { maxBatchSize: env.BATCH_MAX_SIZE, maxDelayMs: env.BATCH_MAX_DELAY_MS },
});
const after = process.memoryUsage().rss;
console.log('| model | role | on disk | load ms | warm-up ms |');
console.log('| --- | --- | --- | --- | --- |');
for (const m of host.describe()) console.log(`| ${m.model} | ${m.role} | ${mib(await sizeOf(dir(m.role)))} | ${m.loadMs} | ${m.warmupMs} |`);
console.log(`\nWorker RSS before loading: ${mib(before)}; with all ${host.describe().length} models loaded and warmed up: ${mib(after)} (+${mib(after - before)}).`);
await host.close();
