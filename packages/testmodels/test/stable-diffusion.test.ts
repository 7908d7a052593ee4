import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import onnxProto from 'onnx-proto';
import { unetWeightRequests } from '@curator/graphs/unet';
import { vaeWeightRequests } from '@curator/graphs/vae';
import { writeTestStableDiffusion } from '../src/stable-diffusion.ts';
import { testSet } from '@curator/models';

const { buildClipTokenizer, clipByteAlphabet } = testSet;

const { onnx } = onnxProto;

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-testmodel-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const typeOf = (session: ort.InferenceSession, name: string) => {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.type : undefined;
};

for (const precision of ['fp32', 'fp16'] as const) {
  test(`${precision}: every part loads with the export's input and output names and runs`, async () => {
    await withDir(async (dir) => {
      const info = await writeTestStableDiffusion(dir, { precision });
      const float = precision === 'fp16' ? 'float16' : 'float32';
      // Float inputs of an fp16 export are float16 (bits in a Uint16Array; 0x3c00 is 1.0).
      const tensor = (dims: number[]) => {
        const n = dims.reduce((a, b) => a * b, 1);
        return precision === 'fp16' ? new ort.Tensor('float16', new Uint16Array(n).fill(0x3c00), dims) : new ort.Tensor('float32', new Float32Array(n).fill(1), dims);
      };

      const text = await ort.InferenceSession.create(join(dir, 'text_encoder', 'model.onnx'));
      assert.deepEqual(text.inputNames, ['input_ids']);
      assert.deepEqual(text.outputNames, ['last_hidden_state', 'pooler_output']);
      assert.equal(typeOf(text, 'input_ids'), 'int32');
      const ids = new Int32Array(2 * 77).fill(info.vocabSize - 1);
      ids[0] = info.vocabSize - 2;
      const hidden = (await text.run({ input_ids: new ort.Tensor('int32', ids, [2, 77]) })).last_hidden_state!;
      assert.deepEqual(hidden.dims, [2, 77, info.textHidden]);
      assert.equal(hidden.type, float);

      const unet = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
      assert.deepEqual([...unet.inputNames].sort(), ['encoder_hidden_states', 'sample', 'timestep']);
      assert.deepEqual(unet.outputNames, ['out_sample']);
      assert.equal(typeOf(unet, 'timestep'), 'int64');
      const noise = (
        await unet.run({ sample: tensor([2, 4, 8, 8]), timestep: new ort.Tensor('int64', BigInt64Array.from([981n]), [1]), encoder_hidden_states: hidden })
      ).out_sample!;
      assert.deepEqual(noise.dims, [2, 4, 8, 8]);
      assert.equal(noise.type, float);

      const vae = await ort.InferenceSession.create(join(dir, 'vae_decoder', 'model.onnx'));
      assert.deepEqual(vae.inputNames, ['latent_sample']);
      assert.deepEqual(vae.outputNames, ['sample']);
      const image = (await vae.run({ latent_sample: tensor([1, 4, 8, 8]) })).sample!;
      assert.deepEqual(image.dims, [1, 3, 64, 64]);

      const scheduler = JSON.parse(await readFile(join(dir, 'scheduler', 'scheduler_config.json'), 'utf8'));
      assert.equal(scheduler._class_name, 'PNDMScheduler');
      assert.equal(scheduler.beta_schedule, 'scaled_linear');
      assert.equal(scheduler.skip_prk_steps, true);
      const vaeConfig = JSON.parse(await readFile(join(dir, 'vae_decoder', 'config.json'), 'utf8'));
      assert.equal(vaeConfig.scaling_factor, 0.18215);
      const index = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8'));
      assert.deepEqual(index.tokenizer, ['transformers', 'CLIPTokenizer']);
      for (const file of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
        assert.ok((await stat(join(dir, 'tokenizer', file))).size > 0, file);
      }
      // As in the real repository: the engine must manage without tokenizer.json.
      await assert.rejects(stat(join(dir, 'tokenizer', 'tokenizer.json')), { code: 'ENOENT' });
      await Promise.all([text.release(), unet.release(), vae.release()]);
    });
  });
}

test('the UNet can keep its weights in model.onnx_data, loaded from the model folder', async () => {
  await withDir(async (dir) => {
    await writeTestStableDiffusion(dir, { externalData: true, timestepType: 'float', inputIdsType: 'int64' });
    const model = await stat(join(dir, 'unet', 'model.onnx'));
    const data = await stat(join(dir, 'unet', 'model.onnx_data'));
    assert.ok(data.size > model.size, 'weights live in the side file');
    const unet = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
    assert.equal(typeOf(unet, 'timestep'), 'float32');
    const out = await unet.run({
      sample: new ort.Tensor('float32', new Float32Array(4 * 8 * 8).fill(0.5), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.from([500]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', new Float32Array(77 * 32).fill(0.1), [1, 77, 32]),
    });
    assert.ok(Array.from(out.out_sample!.data as Float32Array).every(Number.isFinite));
    const text = await ort.InferenceSession.create(join(dir, 'text_encoder', 'model.onnx'));
    assert.equal(typeOf(text, 'input_ids'), 'int64');
    await Promise.all([unet.release(), text.release()]);
  });
});

test('the UNet and VAE decoder are diffusers\' architectures: their graphs hold exactly the state-dict tensors of the config.json beside them', async () => {
  await withDir(async (dir) => {
    await writeTestStableDiffusion(dir);
    const initializers = async (path: string) => onnx.ModelProto.decode(await readFile(path)).graph!.initializer!.map((t) => t.name!);
    const unetConfig = JSON.parse(await readFile(join(dir, 'unet', 'config.json'), 'utf8'));
    assert.deepEqual(unetConfig.down_block_types, ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
    const unetNames = unetWeightRequests(unetConfig).map((r) => r.name);
    assert.ok(unetNames.includes('up_blocks.3.attentions.0.transformer_blocks.0.ff.net.0.proj.weight'));
    assert.deepEqual((await initializers(join(dir, 'unet', 'model.onnx'))).filter((n) => unetNames.includes(n)).sort(), [...unetNames].sort());
    const vaeConfig = JSON.parse(await readFile(join(dir, 'vae_decoder', 'config.json'), 'utf8'));
    const decoderNames = vaeWeightRequests(vaeConfig).map((r) => r.name).filter((n) => n.startsWith('decoder.') || n.startsWith('post_quant_conv.'));
    assert.deepEqual((await initializers(join(dir, 'vae_decoder', 'model.onnx'))).filter((n) => decoderNames.includes(n)).sort(), [...decoderNames].sort());
  });
});

test('the CLIP vocabulary holds every byte, its word-final form, each merge result and the specials last', () => {
  const { vocab, merges, startId, endId } = buildClipTokenizer();
  const alphabet = clipByteAlphabet();
  assert.equal(new Set(alphabet).size, 256);
  assert.equal(vocab[alphabet[0]!], 0);
  assert.equal(vocab[`${alphabet[0]}</w>`], 256);
  for (const [a, b] of merges) assert.ok(a in vocab && b in vocab && a + b in vocab, `${a} ${b}`);
  assert.ok(vocab['photo</w>'] !== undefined);
  assert.equal(vocab['<|startoftext|>'], startId);
  assert.equal(vocab['<|endoftext|>'], endId);
  assert.equal(endId, Object.keys(vocab).length - 1);
});
