import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isCuratorError } from '@curator/contracts';
import { parseUnetConfig, unetWeightRequests, writeUnet, type UnetGraphOptions } from '../src/unet.ts';
import { randomWeights } from '../src/weights.ts';
import { describe, floatTensor, floatsOf, maxAbs, maxAbsDiff, ort, readJson, readerWeights, referenceDir, run, withReaders, withTempDir } from './unet-helpers.ts';

const tiny = join(referenceDir, 'tiny-unet');
const ofa = join(referenceDir, 'ofa-small-sd-v0');

// Measured on the development machine: fp32 7.2e-7 (fused attention) / 7.5e-7 (standard), fp16 8.8e-4 / 8.3e-4
// (outputs up to 1.14 in magnitude).
const fp32Tolerance = 1e-5;
const fp16Tolerance = 5e-3;

interface TinyInputs {
  sample: Float32Array;
  timesteps: bigint[];
  context: Float32Array;
  expected: Float32Array;
}

async function tinyInputs(): Promise<TinyInputs> {
  return withReaders([join(tiny, 'inputs.safetensors'), join(tiny, 'outputs.safetensors')], async ([inputs, outputs]) => {
    const raw = await inputs!.readRaw('timestep');
    return {
      sample: await inputs!.readFloat32('sample'),
      timesteps: [...new BigInt64Array(raw.bytes.slice().buffer)],
      context: await inputs!.readFloat32('encoder_hidden_states'),
      expected: await outputs!.readFloat32('out_sample'),
    };
  });
}

async function writeTinyUnet(path: string, options: UnetGraphOptions & { externalData?: boolean } = {}) {
  const config = await readJson(join(tiny, 'config.json'));
  return withReaders([join(tiny, 'weights.safetensors')], async ([weights]) => {
    const { externalData, ...graph } = options;
    return (await writeUnet(path, config, readerWeights(weights!), { ...graph, ...(externalData ? { externalData: { minTensorBytes: 1024 } } : {}) })).file;
  });
}

const variants = [
  { precision: 'fp32', attentionKernel: 'fused' },
  { precision: 'fp16', attentionKernel: 'fused' },
  { precision: 'fp32', attentionKernel: 'standard' },
  { precision: 'fp16', attentionKernel: 'standard' },
] as const;

for (const { precision, attentionKernel } of variants) {
  test(`${precision}, ${attentionKernel} attention: the UNet fed diffusers' tiny-unet weights reproduces diffusers' out_sample`, async (t) => {
    const data = await tinyInputs();
    await withTempDir(async (dir) => {
      const path = join(dir, 'unet', 'model.onnx');
      await writeTinyUnet(path, { precision, attentionKernel });
      const session = await ort.InferenceSession.create(path);
      const type = (name: string) => {
        const meta = session.inputMetadata.find((m) => m.name === name);
        return meta?.isTensor ? meta.type : undefined;
      };
      const float = precision === 'fp16' ? 'float16' : 'float32';
      assert.deepEqual([type('sample'), type('timestep'), type('encoder_hidden_states')], [float, 'int64', float]);
      const out = await session.run({
        sample: floatTensor(precision, data.sample, [2, 4, 8, 8]),
        timestep: new ort.Tensor('int64', BigInt64Array.from(data.timesteps), [2]),
        encoder_hidden_states: floatTensor(precision, data.context, [2, 77, 32]),
      });
      await session.release();
      const sample = out.out_sample!;
      assert.equal(sample.type, float);
      assert.deepEqual(sample.dims, [2, 4, 8, 8]);
      const diff = maxAbsDiff(floatsOf(sample), data.expected);
      t.diagnostic(`max |onnxruntime - diffusers| = ${diff.toExponential(2)} (outputs up to ${maxAbs(data.expected).toFixed(3)})`);
      assert.ok(diff <= (precision === 'fp32' ? fp32Tolerance : fp16Tolerance), `max difference ${diff}`);
    });
  });
}

test('weights in model.onnx_data load from the folder and give the same output; one timestep serves the whole batch', async () => {
  const data = await tinyInputs();
  await withTempDir(async (dir) => {
    const path = join(dir, 'model.onnx');
    const written = await writeTinyUnet(path, { externalData: true });
    assert.equal(written.dataPath, join(dir, 'model.onnx_data'));
    assert.ok((await stat(written.dataPath!)).size > 10 * (await stat(path)).size, 'the weights live in the side file');
    const feeds = (timestep: ort.Tensor) => ({
      sample: new ort.Tensor('float32', data.sample, [2, 4, 8, 8]),
      timestep,
      encoder_hidden_states: new ort.Tensor('float32', data.context, [2, 77, 32]),
    });
    const both = floatsOf((await run(path, feeds(new ort.Tensor('int64', BigInt64Array.from(data.timesteps), [2])))).out_sample!);
    assert.ok(maxAbsDiff(both, data.expected) <= fp32Tolerance);

    // diffusers expands a single timestep to the batch: [t] equals [t, t].
    const t = data.timesteps[0]!;
    const one = floatsOf((await run(path, feeds(new ort.Tensor('int64', BigInt64Array.from([t]), [1])))).out_sample!);
    const same = floatsOf((await run(path, feeds(new ort.Tensor('int64', BigInt64Array.from([t, t]), [2])))).out_sample!);
    assert.deepEqual(one, same);
    assert.ok(maxAbsDiff(one.subarray(0, 256), data.expected.subarray(0, 256)) <= fp32Tolerance, 'the first sample used timestep t');
  });
});

test('a float timestep input (diffusers\' old ONNX script) gives the int64 graph\'s output', async () => {
  const data = await tinyInputs();
  await withTempDir(async (dir) => {
    await writeTinyUnet(join(dir, 'float.onnx'), { timestepType: 'float' });
    const session = await ort.InferenceSession.create(join(dir, 'float.onnx'));
    const meta = session.inputMetadata.find((m) => m.name === 'timestep')!;
    assert.equal(meta.isTensor && meta.type, 'float32');
    const out = await session.run({
      sample: new ort.Tensor('float32', data.sample, [2, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.from(data.timesteps, Number), [2]),
      encoder_hidden_states: new ort.Tensor('float32', data.context, [2, 77, 32]),
    });
    await session.release();
    assert.ok(maxAbsDiff(floatsOf(out.out_sample!), data.expected) <= fp32Tolerance);
  });
});

test('latent sizes that do not halve evenly come back at the input size (upsampling to the skip connection\'s size)', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'model.onnx');
    await writeTinyUnet(path);
    const { out_sample } = await run(path, {
      sample: new ort.Tensor('float32', new Float32Array(4 * 9 * 7).fill(0.3), [1, 4, 9, 7]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', new Float32Array(5 * 32).fill(0.1), [1, 5, 32]),
    });
    assert.deepEqual(out_sample!.dims, [1, 4, 9, 7]);
    assert.ok(floatsOf(out_sample!).every(Number.isFinite));
  });
});

test('at tiny-unet\'s config the builder asks for exactly the tensors of diffusers\' state dict', async () => {
  await withReaders([join(tiny, 'weights.safetensors')], async ([weights]) => {
    const requested = unetWeightRequests(await readJson(join(tiny, 'config.json')));
    assert.deepEqual(describe(requested), describe(weights!.tensors()));
    assert.equal(requested.length, 324);
  });
});

test('at small-stable-diffusion-v0\'s config the builder asks for exactly its 442 state-dict names and shapes', async () => {
  const expected = JSON.parse(await readFile(join(ofa, 'unet.state-dict-shapes.json'), 'utf8')) as Record<string, number[]>;
  const requested = unetWeightRequests(await readJson(join(ofa, 'unet.config.json')));
  assert.equal(requested.length, 442);
  assert.deepEqual(describe(requested), describe(expected));
  const parameters = requested.reduce((sum, r) => sum + r.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(parameters, 579_384_964);
});

test('attention_head_dim is the number of heads (SD 1.x), per block when it is a list (SD 2.x)', async () => {
  const config = await readJson(join(tiny, 'config.json'));
  const spec = parseUnetConfig(config);
  assert.deepEqual(spec.heads, [8, 8, 8]);
  assert.deepEqual(parseUnetConfig({ ...config, attention_head_dim: [2, 4, 8] }).heads, [2, 4, 8]);
  assert.equal(spec.timeEmbedDim, 128);
});

test('configs the builder does not build are refused with the key named, not built wrong', async () => {
  const config = await readJson(join(tiny, 'config.json'));
  const refusals: Array<[Record<string, unknown>, string]> = [
    [{ class_embed_type: 'timestep' }, 'class_embed_type'],
    [{ num_class_embeds: 10 }, 'num_class_embeds'],
    [{ addition_embed_type: 'text_time' }, 'addition_embed_type'],
    [{ num_attention_heads: 8 }, 'num_attention_heads'],
    [{ down_block_types: ['CrossAttnDownBlock2D', 'SimpleCrossAttnDownBlock2D', 'DownBlock2D'] }, 'down_block_types.1'],
    [{ up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'CrossAttnUpBlock2D'] }, 'up_block_types.1'],
    [{ mid_block_type: 'UNetMidBlock2DSimpleCrossAttn' }, 'mid_block_type'],
    [{ only_cross_attention: true }, 'only_cross_attention'],
    [{ time_cond_proj_dim: 256 }, 'time_cond_proj_dim'],
    [{ resnet_time_scale_shift: 'scale_shift' }, 'resnet_time_scale_shift'],
    [{ time_embedding_type: 'fourier' }, 'time_embedding_type'],
    [{ encoder_hid_dim: 1024 }, 'encoder_hid_dim'],
    [{ act_fn: 'mish' }, 'act_fn'],
    [{ block_out_channels: [32, 64] }, 'block_out_channels'],
    [{ attention_head_dim: 7 }, 'attention_head_dim.0'],
    [{ _class_name: 'UNet2DModel' }, '_class_name'],
  ];
  for (const [change, key] of refusals) {
    assert.throws(
      () => parseUnetConfig({ ...config, ...change }),
      (error: unknown) => isCuratorError(error) && error.code === 'model_unsupported' && error.details?.[0]?.path === key && error.message.includes(key),
      JSON.stringify(change),
    );
  }
  // Keys diffusers would ignore are reported, not refused.
  assert.deepEqual(parseUnetConfig({ ...config, some_future_key: 1 }).ignoredKeys, ['some_future_key']);
});

test('random-weight builds are deterministic: the same seed writes byte-identical files, another seed does not', async () => {
  const config = await readJson(join(tiny, 'config.json'));
  await withTempDir(async (dir) => {
    const write = async (name: string, seed: number) => {
      await writeUnet(join(dir, name, 'model.onnx'), config, randomWeights(seed), { externalData: { minTensorBytes: 1024 } });
      return [await readFile(join(dir, name, 'model.onnx')), await readFile(join(dir, name, 'model.onnx_data'))];
    };
    const [graphA, dataA] = await write('a', 7);
    const [graphB, dataB] = await write('b', 7);
    const [, dataC] = await write('c', 8);
    assert.ok(graphA!.equals(graphB!));
    assert.ok(dataA!.equals(dataB!));
    assert.ok(!dataA!.equals(dataC!));
  });
});
