// Stable Diffusion at real size on this CPU: builds OFA-Sys/small-stable-diffusion-v0's UNet (its
// reconstructed config, 579M parameters, random weights, fp32 with external data) and its VAE decoder
// into a temporary folder, reports build time and peak RSS, then times UNet steps at 512x512 with
// classifier-free guidance (batch 2) and one VAE decode, on onnxruntime-node's CPU provider with the
// session options the diffusion engine uses (graph optimization "all").
//   node packages/graphs/bench/unet.bench.ts [--steps 3] [--size 512] [--attention fused|standard] [--optimization all|extended]
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as ort from '@curator/inference/ort';
import { diffusersReferenceDir } from '@curator/reference';
import { writeUnet } from '../src/unet.ts';
import { writeVaeDecoder } from '../src/vae.ts';
import { diffusionRandomWeights } from '../src/diffusion-weights.ts';
import type { AttentionKernel } from '../src/diffusion-graph.ts';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    size: { type: 'string', default: '512' },
    attention: { type: 'string', default: 'fused' },
    optimization: { type: 'string', default: 'all' },
  },
});
const steps = Number(args.steps);
const size = Number(args.size);
const attentionKernel = args.attention as AttentionKernel;
// "all" (the engine's default) adds onnxruntime's NCHWc layout for convolutions, with a reordered
// copy of every conv weight; "extended" keeps the mapped external data as it is.
const optimization = args.optimization as 'all' | 'extended';
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const seconds = (from: number) => (performance.now() - from) / 1000;
const rows: Array<[string, string]> = [];
const note = (what: string, value: string) => {
  rows.push([what, value]);
  console.error(`${what}: ${value}`);
};

const ofa = join(diffusersReferenceDir, 'ofa-small-sd-v0');
const unetConfig = JSON.parse(await readFile(join(ofa, 'unet.config.json'), 'utf8')) as Record<string, unknown>;
const vaeConfig = JSON.parse(await readFile(join(ofa, 'vae.config.json'), 'utf8')) as Record<string, unknown>;
const dir = await mkdtemp(join(tmpdir(), 'curator-unet-bench-'));
try {
  let t = performance.now();
  let lastShown = 0;
  const unetPath = join(dir, 'unet', 'model.onnx');
  const written = await writeUnet(unetPath, unetConfig, diffusionRandomWeights(1), {
    attentionKernel,
    externalData: { file: 'model.onnx_data' },
    onProgress: ({ written: done, total }) => {
      if (performance.now() - lastShown > 2000 || done === total) {
        lastShown = performance.now();
        console.error(`  unet weights ${done}/${total}`);
      }
    },
  });
  note('UNet build (442 tensors, fp32, external data)', `${seconds(t).toFixed(1)} s`);
  note('UNet files', `model.onnx ${((await stat(unetPath)).size / 2 ** 20).toFixed(1)} MiB + model.onnx_data ${gib((await stat(written.file.dataPath!)).size)}`);
  note('peak RSS after the UNet build', gib(peakRss()));
  // The same build from a source that hands over ready arrays: what writing costs without drawing
  // 579M Gaussian numbers (a checkpoint conversion reads them from disk instead).
  t = performance.now();
  await writeUnet(join(dir, 'unet-at-hand', 'model.onnx'), unetConfig, { get: async (_name, shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) }, {
    attentionKernel,
    externalData: { file: 'model.onnx_data' },
  });
  note('UNet build from weights at hand (no random generation)', `${seconds(t).toFixed(1)} s, peak RSS still ${gib(peakRss())}`);
  await rm(join(dir, 'unet-at-hand'), { recursive: true, force: true });
  t = performance.now();
  const vaePath = join(dir, 'vae_decoder', 'model.onnx');
  await writeVaeDecoder(vaePath, vaeConfig, diffusionRandomWeights(2), { attentionKernel });
  note('VAE decoder build', `${seconds(t).toFixed(1)} s (${((await stat(vaePath)).size / 2 ** 20).toFixed(0)} MiB)`);
  note('peak RSS after both builds', gib(peakRss()));

  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: optimization, executionProviders: ['cpu'] };
  t = performance.now();
  const unet = await ort.InferenceSession.create(unetPath, options);
  note(`UNet session load (graph optimization ${optimization})`, `${seconds(t).toFixed(1)} s, RSS then ${gib(process.memoryUsage().rss)}`);
  const latent = size / 8;
  const sample = new Float32Array(2 * 4 * latent * latent);
  for (let i = 0; i < sample.length; i++) sample[i] = Math.sin(i * 0.37);
  const context = new Float32Array(2 * 77 * 768);
  for (let i = 0; i < context.length; i++) context[i] = Math.cos(i * 0.11);
  const times: number[] = [];
  for (let step = 0; step < steps; step++) {
    t = performance.now();
    const { out_sample } = await unet.run({
      sample: new ort.Tensor('float32', sample, [2, 4, latent, latent]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([981n - BigInt(step * 20), 981n - BigInt(step * 20)]), [2]),
      encoder_hidden_states: new ort.Tensor('float32', context, [2, 77, 768]),
    });
    times.push(seconds(t));
    if (!(out_sample!.data as Float32Array).every(Number.isFinite)) throw new Error('the UNet produced a non-finite value');
    console.error(`  step ${step + 1}: ${times[step]!.toFixed(2)} s`);
  }
  const later = times.slice(1).sort((a, b) => a - b);
  note(`UNet step at ${size}x${size}, batch 2 (CFG), ${attentionKernel} attention`, `first ${times[0]!.toFixed(2)} s, then median ${(later[Math.floor(later.length / 2)] ?? times[0]!).toFixed(2)} s (${steps} steps)`);
  note('peak RSS while stepping', gib(peakRss()));
  await unet.release();

  const vae = await ort.InferenceSession.create(vaePath, options);
  t = performance.now();
  const { sample: image } = await vae.run({ latent_sample: new ort.Tensor('float32', sample.subarray(0, 4 * latent * latent), [1, 4, latent, latent]) });
  note(`VAE decode of one ${size}x${size} image`, `${seconds(t).toFixed(2)} s -> [${image!.dims.join(', ')}]`);
  note('peak RSS at the end', gib(peakRss()));
  await vae.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log('| Measure | Value |\n| --- | --- |');
for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
