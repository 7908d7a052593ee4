// Text generation benchmark on a generated model of t5-small's shape (60M parameters, random
// weights), CPU. Prints a markdown table.
//   node packages/textgen/bench/textgen.bench.ts
// The model is generated once into $CURATOR_BENCH_CACHE (default: <tmpdir>/curator-bench).
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeTestT5, t5SmallConfig } from '@curator/testmodels/t5';
import { Seq2SeqModel } from '../src/seq2seq-model.ts';
import { generateBatch, type GenerationRequest } from '../src/generate.ts';
import { resolveOptions, type GenerateOptions } from '../src/options.ts';
import { TextGenerator } from '../src/text-generator.ts';

const cacheDir = join(process.env.CURATOR_BENCH_CACHE ?? join(tmpdir(), 'curator-bench'), 't5-small-random');
const newTokens = Number(process.env.BENCH_NEW_TOKENS ?? 32);
const inputLength = Number(process.env.BENCH_INPUT_TOKENS ?? 64);
// Other processes share the cores: each case runs this many times and keeps its fastest run.
const repeats = Number(process.env.BENCH_REPEATS ?? 2);

if (!existsSync(join(cacheDir, 'onnx', 'decoder_model_merged.onnx'))) {
  const t = performance.now();
  await writeTestT5(cacheDir, t5SmallConfig, { layouts: ['merged'], precisions: ['fp32'] });
  console.error(`generated t5-small-shaped model in ${((performance.now() - t) / 1000).toFixed(1)} s: ${cacheDir}`);
}

const inputs = (count: number): number[][] =>
  Array.from({ length: count }, (_, i) => Array.from({ length: inputLength - 1 }, (_, j) => 3 + ((i * 7919 + j * 104729) % 32000)).concat([1]));

const model = await Seq2SeqModel.load({ modelDir: cacheDir });
const rows: string[][] = [];
const note = (...cells: (string | number)[]) => {
  rows.push(cells.map(String));
  console.error(cells.join(' | '));
};

async function timeBatch(requests: GenerationRequest[]): Promise<{ seconds: number; tokens: number }> {
  let best = { seconds: Infinity, tokens: 0 };
  for (let i = 0; i < repeats; i++) {
    const run = await timeBatchOnce(requests);
    if (run.seconds < best.seconds) best = run;
  }
  return best;
}

async function timeBatchOnce(requests: GenerationRequest[]): Promise<{ seconds: number; tokens: number }> {
  const t = performance.now();
  const results = await generateBatch(model, requests);
  const seconds = (performance.now() - t) / 1000;
  let tokens = 0;
  for (const r of results) {
    if (r instanceof Error) throw r;
    tokens += r.sequences[0]!.tokens.length;
  }
  return { seconds, tokens };
}

const fixedLength = (options: GenerateOptions): GenerateOptions => ({ ...options, maxNewTokens: newTokens, minNewTokens: newTokens });
const requestsFor = (count: number, options: GenerateOptions) => inputs(count).map((inputIds) => ({ inputIds, options: resolveOptions(fixedLength(options), model.generation) }));

await timeBatch(requestsFor(1, { numBeams: 1 })); // warm-up

// 1. Throughput by batch size.
for (const [label, options] of [
  ['greedy', { numBeams: 1 }],
  ['beam-4', { numBeams: 4 }],
] as const) {
  for (const batch of [1, 4, 8, 16]) {
    const { seconds, tokens } = await timeBatch(requestsFor(batch, options));
    note(`${label}, batch ${batch}`, `${(tokens / seconds).toFixed(1)} tokens/s`, `${seconds.toFixed(2)} s for ${batch} x ${newTokens} tokens`);
  }
}

// 2. KV cache against recomputing the decoder over the whole prefix every step.
{
  const long = 64;
  const options = { maxNewTokens: long, minNewTokens: long };
  const cached = await timeBatch(inputs(1).map((inputIds) => ({ inputIds, options: resolveOptions(options, model.generation) })));
  const recomputed = await timeBatch(inputs(1).map((inputIds) => ({ inputIds, options: resolveOptions({ ...options, useCache: false }, model.generation) })));
  note(`greedy, ${long} new tokens, KV cache`, `${(cached.tokens / cached.seconds).toFixed(1)} tokens/s`, `${cached.seconds.toFixed(2)} s`);
  note(`greedy, ${long} new tokens, recomputed`, `${(recomputed.tokens / recomputed.seconds).toFixed(1)} tokens/s`, `${recomputed.seconds.toFixed(2)} s`);
  note('KV cache speed-up', `${(recomputed.seconds / cached.seconds).toFixed(1)}x`, '');
}
await model.close();

// 3. The micro-batcher: 16 concurrent requests through the engine thread, batched or one at a time.
for (const batching of [false, { maxBatchSize: 8, maxDelayMs: 5 }, { maxBatchSize: 16, maxDelayMs: 5 }] as const) {
  const generator = await TextGenerator.load({ modelDir: cacheDir, batching });
  await generator.generateIds(inputs(1)[0]!, { maxNewTokens: 2 });
  let seconds = Infinity;
  let results: Awaited<ReturnType<typeof generator.generateIds>>[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    const run = await Promise.all(inputs(16).map((ids) => generator.generateIds(ids, fixedLength({ numBeams: 1 }))));
    const s = (performance.now() - t) / 1000;
    if (s < seconds) [seconds, results] = [s, run];
  }
  const tokens = results.reduce((n, r) => n + r.tokens, 0);
  const ttft = results.map((r) => r.timeToFirstTokenMs).sort((a, b) => a - b);
  note(
    `16 concurrent greedy requests, ${batching ? `micro-batcher ${batching.maxBatchSize} / ${batching.maxDelayMs} ms` : 'one at a time'}`,
    `${(tokens / seconds).toFixed(1)} tokens/s`,
    `${seconds.toFixed(2)} s, median time to first token ${ttft[8]!.toFixed(0)} ms`,
  );
  await generator.close();
}
const first = rows.find((r) => r[0]!.includes('one at a time'));
const batched = rows.find((r) => r[0]!.includes('micro-batcher 8'));
if (first && batched) note('micro-batcher gain (8 / 5 ms)', `${(parseFloat(batched[1]!) / parseFloat(first[1]!)).toFixed(1)}x`, '');
note('peak RSS', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`, '');

console.log(`\nText generation, t5-small-shaped random model (fp32, CPU, ${inputLength} input tokens, ${newTokens} new tokens unless stated, fastest of ${repeats} runs)\n`);
console.log('| Case | Throughput | Detail |');
console.log('| --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
