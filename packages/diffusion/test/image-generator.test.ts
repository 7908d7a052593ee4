import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { isCuratorError } from '@curator/contracts';
// A path import: @curator/testmodels does not export this module by name (yet).
import { writeTestStableDiffusion } from '@curator/testmodels/stable-diffusion';
import { ImageGenerator, type GenerateRequest } from '../src/index.ts';
import { modelFileName } from '../src/engine.ts';

let root: string;
let generator: ImageGenerator;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'diffusion-test-'));
  await writeTestStableDiffusion(join(root, 'fp32'));
  generator = await ImageGenerator.load({ modelDir: join(root, 'fp32'), modelId: 'test/sd-tiny' });
});

after(async () => {
  await generator?.close();
  await rm(root, { recursive: true, force: true });
});

const base: GenerateRequest = { prompt: 'a photo of a city at night', steps: 4, guidanceScale: 7.5, width: 64, height: 64, seed: 7 };

async function pixels(png: Buffer): Promise<Uint8Array> {
  return new Uint8Array((await sharp(png).raw().toBuffer()).buffer);
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('loads the export and reports what it loaded', () => {
  assert.equal(generator.info.modelId, 'test/sd-tiny');
  assert.equal(generator.info.precision, 'fp32');
  assert.deepEqual(generator.info.files, ['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx']);
  assert.equal(generator.info.device, 'cpu');
  assert.equal(generator.info.defaultScheduler, 'pndm');
  assert.equal(generator.info.scalingFactor, 0.18215);
});

test('the same seed gives a byte-identical PNG, another seed a different one', async () => {
  const first = await generator.generate(base);
  const again = await generator.generate(base);
  const other = await generator.generate({ ...base, seed: 8 });
  assert.equal(first.seed, 7);
  assert.equal(first.images[0]!.seed, 7);
  assert.equal(first.scheduler, 'pndm');
  assert.ok(first.images[0]!.data.equals(again.images[0]!.data));
  assert.ok(!first.images[0]!.data.equals(other.images[0]!.data));
  const meta = await sharp(first.images[0]!.data).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
  assert.equal(first.images[0]!.contentType, 'image/png');
});

test('without a seed one is picked and reported, and reproduces the image', async () => {
  const { seed, images } = await generator.generate({ ...base, seed: undefined });
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
  const replay = await generator.generate({ ...base, seed });
  assert.ok(images[0]!.data.equals(replay.images[0]!.data));
});

test('the prompt and the negative prompt steer the image under guidance', async () => {
  const a = await generator.generate(base);
  const otherPrompt = await generator.generate({ ...base, prompt: 'a red car on a road' });
  const negative = await generator.generate({ ...base, negativePrompt: 'dark sky' });
  assert.ok(!a.images[0]!.data.equals(otherPrompt.images[0]!.data));
  assert.ok(!a.images[0]!.data.equals(negative.images[0]!.data));
  // Prompts past CLIP's 77 tokens are truncated (keeping the end token), not refused.
  const long = await generator.generate({ ...base, prompt: 'a detailed painting of an old city street at night, '.repeat(30) });
  assert.equal(long.images.length, 1);
});

test('guidance scale 1 runs the conditional half only and equals unguided CFG arithmetic', async () => {
  const one = await generator.generate({ ...base, guidanceScale: 1, negativePrompt: 'blue' });
  const oneOtherNegative = await generator.generate({ ...base, guidanceScale: 1, negativePrompt: 'a green tree' });
  // Without an unconditional half the negative prompt cannot matter.
  assert.ok(one.images[0]!.data.equals(oneOtherNegative.images[0]!.data));
  // Just above 1 the full two-half batch runs: uncond + g * (cond - uncond) is cond up to rounding.
  const batched = await generator.generate({ ...base, guidanceScale: 1.000001, negativePrompt: 'blue' });
  assert.ok(maxDifference(await pixels(one.images[0]!.data), await pixels(batched.images[0]!.data)) <= 2);
  const guided = await generator.generate({ ...base, guidanceScale: 7.5, negativePrompt: 'blue' });
  assert.ok(maxDifference(await pixels(one.images[0]!.data), await pixels(guided.images[0]!.data)) > 10);
});

test('progress counts the steps asked for, once each and in order, whatever the model evaluations', async () => {
  // PNDM evaluates the UNet 5 times for 4 steps; the report still says 1/4 .. 4/4.
  for (const scheduler of ['pndm', 'ddim', 'euler', 'dpm-solver++'] as const) {
    const seen: Array<{ step: number; steps: number }> = [];
    await generator.generate({ ...base, scheduler }, { onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen, Array.from({ length: base.steps }, (_, i) => ({ step: i + 1, steps: base.steps })), scheduler);
  }
});

test("a scheduler the model's scheduler_config.json cannot configure is bad input; the model's own still runs", async () => {
  const dir = join(root, 'sde-config');
  await cp(join(root, 'fp32'), dir, { recursive: true });
  const file = join(dir, 'scheduler', 'scheduler_config.json');
  // As diffusers (Python's json) writes them: DPM-Solver keys that PNDM ignores, a bare -Infinity.
  const text = (await readFile(file, 'utf8')).replace('{', '{\n  "algorithm_type": "sde-dpmsolver",\n  "lambda_min_clipped": -Infinity,');
  await writeFile(file, text);
  const sd = await ImageGenerator.load({ modelDir: dir });
  try {
    await assert.rejects(sd.generate({ ...base, scheduler: 'dpm-solver++' }), (error: unknown) => isCuratorError(error) && error.code === 'bad_input' && /algorithm_type/.test(error.message));
    assert.equal((await sd.generate(base)).images.length, 1);
  } finally {
    await sd.close();
  }
});

test('an abort cancels the denoising loop with code canceled, and the generator keeps working', async () => {
  const controller = new AbortController();
  let steps = 0;
  await assert.rejects(
    generator.generate({ ...base, steps: 20 }, {
      signal: controller.signal,
      onProgress: () => {
        steps++;
        controller.abort();
      },
    }),
    (error: unknown) => isCuratorError(error) && error.code === 'canceled',
  );
  assert.ok(steps < 21, `stopped after ${steps} steps`);
  const after = await generator.generate(base);
  assert.equal(after.images.length, 1);
});

test('numImages 2 gives two distinct images with consecutive seeds', async () => {
  const result = await generator.generate({ ...base, numImages: 2, seed: 100 });
  assert.equal(result.images.length, 2);
  assert.deepEqual(result.images.map((i) => i.seed), [100, 101]);
  assert.ok(!result.images[0]!.data.equals(result.images[1]!.data));
  // Image i of a batch is the image a single request with seed + i gives (batched kernels may round differently).
  const alone = await generator.generate({ ...base, seed: 101 });
  assert.ok(maxDifference(await pixels(result.images[1]!.data), await pixels(alone.images[0]!.data)) <= 2);
});

test('every scheduler produces an image of the requested size and format', async () => {
  const formats = { png: 'png', jpeg: 'jpeg', webp: 'webp' } as const;
  const names = ['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm-solver++'] as const;
  const results = new Map<string, Buffer>();
  for (const [i, scheduler] of names.entries()) {
    const format = (['png', 'jpeg', 'webp', 'png', 'png'] as const)[i]!;
    const result = await generator.generate({ ...base, scheduler, width: 128, height: 64, format });
    assert.equal(result.scheduler, scheduler);
    const image = result.images[0]!;
    const meta = await sharp(image.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], [formats[format], 128, 64], scheduler);
    assert.equal(image.contentType, `image/${format}`);
    results.set(scheduler, image.data);
  }
  assert.ok(!results.get('pndm')!.equals(results.get('euler-ancestral')!));
});

test('invalid requests fail with bad_input', async () => {
  for (const bad of [{ width: 60 }, { steps: 0 }, { numImages: 0 }, { guidanceScale: -1 }, { scheduler: 'lms' }]) {
    await assert.rejects(generator.generate({ ...base, ...bad } as GenerateRequest), (error: unknown) => isCuratorError(error) && error.code === 'bad_input', JSON.stringify(bad));
  }
});

test('fp16 exports, int64 input_ids, float timesteps and external UNet weights all run', async () => {
  const variants = [
    { name: 'fp16', options: { precision: 'fp16' as const } },
    { name: 'external', options: { externalData: true, inputIdsType: 'int64' as const, timestepType: 'float' as const } },
  ];
  for (const variant of variants) {
    const dir = join(root, variant.name);
    await writeTestStableDiffusion(dir, variant.options);
    const sd = await ImageGenerator.load({ modelDir: dir });
    try {
      const a = await sd.generate({ ...base, numImages: 2 });
      const b = await sd.generate({ ...base, numImages: 2 });
      assert.equal(a.images.length, 2);
      assert.ok(a.images[0]!.data.equals(b.images[0]!.data), variant.name);
      assert.ok(!a.images[0]!.data.equals(a.images[1]!.data), variant.name);
      if (variant.name === 'fp16') assert.equal(sd.info.precision, 'fp16');
    } finally {
      await sd.close();
    }
  }
});

test('a folder without a model fails to load with model_missing', async () => {
  await assert.rejects(ImageGenerator.load({ modelDir: join(root, 'nothing-here') }), (error: unknown) => isCuratorError(error) && error.code === 'model_missing');
});

test('fp16 files (model_fp16.onnx beside model.onnx, as the real repositories name them) are opened for fp16', async () => {
  const dir = join(root, 'both-precisions');
  await cp(join(root, 'fp32'), dir, { recursive: true });
  const half = join(root, 'half-export');
  await writeTestStableDiffusion(half, { precision: 'fp16' });
  for (const part of ['text_encoder', 'unet', 'vae_decoder']) await rename(join(half, part, 'model.onnx'), join(dir, part, 'model_fp16.onnx'));

  const fp16 = await ImageGenerator.load({ modelDir: dir, precision: 'fp16' });
  try {
    assert.equal(fp16.info.precision, 'fp16');
    assert.deepEqual(fp16.info.files, ['text_encoder/model_fp16.onnx', 'unet/model_fp16.onnx', 'vae_decoder/model_fp16.onnx']);
    const a = await fp16.generate(base);
    const b = await fp16.generate(base);
    assert.ok(a.images[0]!.data.equals(b.images[0]!.data));
  } finally {
    await fp16.close();
  }
  // Without a precision the CPU opens fp32; CUDA prefers fp16 where its files are there.
  const plain = await ImageGenerator.load({ modelDir: dir });
  try {
    assert.equal(plain.info.precision, 'fp32');
  } finally {
    await plain.close();
  }
  assert.equal(await modelFileName(dir, undefined, 'cpu'), 'model.onnx');
  assert.equal(await modelFileName(dir, undefined, 'cuda:0'), 'model_fp16.onnx');
  assert.equal(await modelFileName(dir, 'fp32', 'cuda:0'), 'model.onnx');
  assert.equal(await modelFileName(join(root, 'fp32'), undefined, 'cuda:0'), 'model.onnx');
  // Asking for fp16 where only fp32 files are: a clear load failure.
  await assert.rejects(ImageGenerator.load({ modelDir: join(root, 'fp32'), precision: 'fp16' }), (error: unknown) => isCuratorError(error) && error.code === 'model_load_failed' && /fp16 was asked for/.test(error.message));
});
