import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCuratorError } from '@curator/contracts';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig, vaeAttentionKeysOf, vaeWeightRequests, writeVaeDecoder, writeVaeEncoder, type VaeAttentionKeys } from '../src/vae.ts';
import { WeightBinder } from '../src/weights.ts';
import { describe, floatTensor, floatsOf, maxAbs, maxAbsDiff, ort, readJson, readerWeights, referenceDir, run, withReaders, withTempDir } from './unet-helpers.ts';
import type { AttentionKernel } from '../src/diffusion-graph.ts';
import type { Precision } from '../src/graph.ts';

const tiny = join(referenceDir, 'tiny-vae');
const ofa = join(referenceDir, 'ofa-small-sd-v0');

// Measured on the development machine: fp32 1.9e-6 (decode), 8.2e-7 (encode); fp16 1.4e-3, 8.5e-4.
const fp32Tolerance = 1e-5;
const fp16Tolerance = 5e-3;

/** diffusers < 0.14 named the mid-block attention's projections differently. */
const legacyNames: Array<[string, string]> = [
  ['.to_q.', '.query.'],
  ['.to_k.', '.key.'],
  ['.to_v.', '.value.'],
  ['.to_out.0.', '.proj_attn.'],
];
const toLegacy = (name: string) => legacyNames.reduce((n, [current, legacy]) => n.replace(current, legacy), name);
const toCurrent = (name: string) => legacyNames.reduce((n, [current, legacy]) => n.replace(legacy, current), name);

async function reference() {
  return withReaders([join(tiny, 'inputs.safetensors'), join(tiny, 'outputs.safetensors')], async ([inputs, outputs]) => ({
    latents: await inputs!.readFloat32('latents'),
    image: await inputs!.readFloat32('image'),
    sample: await outputs!.readFloat32('sample'),
    mean: await outputs!.readFloat32('latent_mean'),
    logvar: await outputs!.readFloat32('latent_logvar'),
  }));
}

/** Writes the tiny VAE's decoder and encoder; `keys` 'legacy' serves the weights under the old names. */
async function writeTinyVae(dir: string, precision: Precision, keys: VaeAttentionKeys = 'current', attentionKernel: AttentionKernel = 'fused') {
  const config = await readJson(join(tiny, 'config.json'));
  return withReaders([join(tiny, 'weights.safetensors')], async ([reader]) => {
    // A legacy checkpoint: the builder asks for `query`..., the source finds them under today's names.
    const weights = readerWeights(reader!, keys === 'legacy' ? toCurrent : undefined);
    const options = { precision, attentionKeys: keys, attentionKernel };
    await writeVaeDecoder(join(dir, 'vae_decoder', 'model.onnx'), config, weights, options);
    await writeVaeEncoder(join(dir, 'vae_encoder', 'model.onnx'), config, weights, options);
    return weights.asked;
  });
}

const variants = [
  { precision: 'fp32', attentionKernel: 'fused' },
  { precision: 'fp16', attentionKernel: 'fused' },
  { precision: 'fp32', attentionKernel: 'standard' },
  { precision: 'fp16', attentionKernel: 'standard' },
] as const;

for (const { precision, attentionKernel } of variants) {
  test(`${precision}, ${attentionKernel} attention: decoder and encoder fed diffusers' tiny-vae weights reproduce diffusers' decode and posterior`, async (t) => {
    const ref = await reference();
    const tolerance = precision === 'fp32' ? fp32Tolerance : fp16Tolerance;
    await withTempDir(async (dir) => {
      await writeTinyVae(dir, precision, 'current', attentionKernel);
      const decoded = await run(join(dir, 'vae_decoder', 'model.onnx'), { latent_sample: floatTensor(precision, ref.latents, [2, 4, 8, 8]) });
      assert.deepEqual(decoded.sample!.dims, [2, 3, 16, 16]);
      assert.equal(decoded.sample!.type, precision === 'fp16' ? 'float16' : 'float32');
      const encoded = await run(join(dir, 'vae_encoder', 'model.onnx'), { sample: floatTensor(precision, ref.image, [2, 3, 16, 16]) });
      const diffs = {
        sample: maxAbsDiff(floatsOf(decoded.sample!), ref.sample),
        latent_mean: maxAbsDiff(floatsOf(encoded.latent_mean!), ref.mean),
        latent_logvar: maxAbsDiff(floatsOf(encoded.latent_logvar!), ref.logvar),
      };
      t.diagnostic(`max |onnxruntime - diffusers|: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')} (decoded values up to ${maxAbs(ref.sample).toFixed(3)})`);
      for (const [name, diff] of Object.entries(diffs)) assert.ok(diff <= tolerance, `${name}: ${diff}`);
    });
  });
}

test('a checkpoint with the old attention names (query, key, value, proj_attn) converts to the same decoder', async () => {
  const ref = await reference();
  await withTempDir(async (dir) => {
    const asked = await writeTinyVae(dir, 'fp32', 'legacy');
    assert.ok(asked.includes('decoder.mid_block.attentions.0.proj_attn.weight'));
    assert.ok(!asked.some((name) => name.includes('.to_q.')));
    const { sample } = await run(join(dir, 'vae_decoder', 'model.onnx'), { latent_sample: new ort.Tensor('float32', ref.latents, [2, 4, 8, 8]) });
    assert.ok(maxAbsDiff(floatsOf(sample!), ref.sample) <= fp32Tolerance);
  });
});

test('the attention naming is recognised from a checkpoint\'s tensor names', async () => {
  await withReaders([join(tiny, 'weights.safetensors')], async ([reader]) => {
    const names = reader!.tensors().map((t) => t.name);
    assert.equal(vaeAttentionKeysOf(names), 'current');
    assert.equal(vaeAttentionKeysOf(names.map(toLegacy)), 'legacy');
  });
});

test('at tiny-vae\'s config encoder + decoder ask for exactly the tensors of diffusers\' state dict', async () => {
  await withReaders([join(tiny, 'weights.safetensors')], async ([reader]) => {
    const requested = vaeWeightRequests(await readJson(join(tiny, 'config.json')));
    assert.equal(requested.length, 124);
    assert.deepEqual(describe(requested), describe(reader!.tensors()));
  });
});

test('at small-stable-diffusion-v0\'s config the VAE asks for exactly its 248 names and shapes, in either attention naming', async () => {
  const expected = JSON.parse(await readFile(join(ofa, 'vae.state-dict-shapes.json'), 'utf8')) as Record<string, number[]>;
  const config = await readJson(join(ofa, 'vae.config.json'));
  // The shapes file lists today's names (what diffusers holds after loading).
  assert.equal(Object.keys(expected).length, 248);
  assert.deepEqual(describe(vaeWeightRequests(config)), describe(expected));
  // A 2023 checkpoint file probably stores the old ones: same tensors, same shapes, old names.
  const legacy = Object.fromEntries(Object.entries(expected).map(([name, shape]) => [toLegacy(name), shape]));
  assert.equal(Object.keys(legacy).filter((name) => name.includes('.proj_attn.')).length, 4);
  assert.deepEqual(describe(vaeWeightRequests(config, 'legacy')), describe(legacy));
  // The decoder graph alone (what the engine runs) covers decoder.* and post_quant_conv.
  const decoderOnly = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildVaeDecoder(config, decoderOnly);
  const decoderNames = decoderOnly.requested.map((r) => r.name);
  assert.deepEqual(decoderNames.sort(), Object.keys(expected).filter((n) => n.startsWith('decoder.') || n.startsWith('post_quant_conv.')).sort());
});

test('VAE configs the builder does not build are refused with the key named', async () => {
  const config = await readJson(join(tiny, 'config.json'));
  const refusals: Array<[Record<string, unknown>, string]> = [
    [{ down_block_types: ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'] }, 'down_block_types.1'],
    [{ up_block_types: ['UpDecoderBlock2D', 'AttnUpDecoderBlock2D'] }, 'up_block_types.1'],
    [{ up_block_types: ['UpDecoderBlock2D'] }, 'up_block_types'],
    [{ act_fn: 'gelu' }, 'act_fn'],
    [{ norm_num_groups: 12 }, 'block_out_channels.0'],
    [{ _class_name: 'AutoencoderTiny' }, '_class_name'],
  ];
  for (const [change, key] of refusals) {
    assert.throws(
      () => parseVaeConfig({ ...config, ...change }),
      (error: unknown) => isCuratorError(error) && error.code === 'model_unsupported' && error.details?.[0]?.path === key,
      JSON.stringify(change),
    );
  }
  const spec = parseVaeConfig({ ...config, mid_block_add_attention: false, use_quant_conv: false, use_post_quant_conv: false });
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildVaeEncoder(spec, binder);
  buildVaeDecoder(spec, binder);
  const names = binder.requested.map((r) => r.name);
  assert.ok(!names.some((n) => n.includes('attentions') || n.includes('quant_conv')));
});
