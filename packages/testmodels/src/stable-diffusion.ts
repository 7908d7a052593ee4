// A tiny Stable Diffusion in the ONNX export layout of optimum/diffusers with options the converted
// test set does not vary (I/O types, external data, one precision), for engine tests; made by the
// same builders as the real conversion (@curator/graphs) from the test set's configs (@curator/models): a CLIP text encoder, a UNet2DConditionModel with SD 1.x's
// block types (cross-attention down blocks, a plain down block, the cross-attention mid block, the
// mirrored up blocks; self- and cross-attention with GEGLU) and an AutoencoderKL decoder with SD's
// four levels (x8 upsampling), all at small widths. Seeded random weights by their state-dict names;
// the configs written beside the graphs are the ones the graphs were built from.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomWeights } from '@curator/graphs/weights';
import { diffusionRandomWeights } from '@curator/graphs/diffusion-weights';
import { writeUnet } from '@curator/graphs/unet';
import { writeVaeDecoder } from '@curator/graphs/vae';
import { writeClipTextEncoder } from '@curator/graphs/clip-text';
import type { Precision } from '@curator/graphs/graph';
import { testSet } from '@curator/models';

const { writeClipTokenizer, clipMaxLength } = testSet;

export interface TestStableDiffusionOptions {
  precision?: Precision;
  seed?: number;
  /** Store the UNet weights in `unet/model.onnx_data` like large real exports. */
  externalData?: boolean;
  /** optimum exports int64 input_ids, the diffusers ONNX script int32. */
  inputIdsType?: 'int32' | 'int64';
  /** optimum exports an int64 timestep, the diffusers ONNX script a float one. */
  timestepType?: 'int64' | 'float';
  scalingFactor?: number;
}

export interface TestStableDiffusionInfo {
  dir: string;
  textHidden: number;
  unetChannels: number;
  vocabSize: number;
  scalingFactor: number;
}

/** The test set's UNet config (SD 1.x block types at small widths, @curator/models). */
export const testUnetConfig = testSet.unetConfig;

/** The test set's VAE config with another scaling factor. */
export function testVaeConfig(scalingFactor: number) {
  return testSet.vaeConfig(scalingFactor);
}

export function testClipTextConfig(vocabSize: number, startId: number, endId: number, precision: Precision) {
  return { ...testSet.textEncoderConfig(vocabSize, startId), eos_token_id: endId, torch_dtype: precision === 'fp16' ? 'float16' : 'float32' };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes a complete tiny Stable Diffusion export into `dir`: text_encoder/, unet/, vae_decoder/
 * (each model.onnx + config.json), tokenizer/, scheduler/scheduler_config.json, model_index.json.
 */
export async function writeTestStableDiffusion(dir: string, options: TestStableDiffusionOptions = {}): Promise<TestStableDiffusionInfo> {
  const precision = options.precision ?? 'fp32';
  const seed = options.seed ?? 1234;
  const scalingFactor = options.scalingFactor ?? 0.18215;
  await mkdir(dir, { recursive: true });
  const { vocabSize, startId, endId } = await writeClipTokenizer(join(dir, 'tokenizer'));

  const textConfig = testClipTextConfig(vocabSize, startId, endId, precision);
  await writeClipTextEncoder(join(dir, 'text_encoder', 'model.onnx'), textConfig, randomWeights(seed), {
    precision,
    inputIdsType: options.inputIdsType ?? 'int32',
    sequenceLength: clipMaxLength,
  });
  await writeJson(join(dir, 'text_encoder', 'config.json'), textConfig);

  await writeUnet(join(dir, 'unet', 'model.onnx'), testUnetConfig, diffusionRandomWeights(seed), {
    precision,
    timestepType: options.timestepType ?? 'int64',
    ...(options.externalData ? { externalData: { file: 'model.onnx_data', minTensorBytes: 1024 } } : {}),
  });
  await writeJson(join(dir, 'unet', 'config.json'), testUnetConfig);

  const vaeConfig = testVaeConfig(scalingFactor);
  await writeVaeDecoder(join(dir, 'vae_decoder', 'model.onnx'), vaeConfig, diffusionRandomWeights(seed), { precision });
  await writeJson(join(dir, 'vae_decoder', 'config.json'), vaeConfig);

  await mkdir(join(dir, 'scheduler'), { recursive: true });
  await writeJson(join(dir, 'scheduler', 'scheduler_config.json'), {
    _class_name: 'PNDMScheduler',
    _diffusers_version: '0.30.0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
  });
  await writeJson(join(dir, 'model_index.json'), {
    _class_name: 'ORTStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    requires_safety_checker: false,
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['optimum', 'ORTModelTextEncoder'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['optimum', 'ORTModelUnet'],
    vae_decoder: ['optimum', 'ORTModelVaeDecoder'],
  });
  return { dir, textHidden: testUnetConfig.cross_attention_dim, unetChannels: testUnetConfig.block_out_channels[0], vocabSize, scalingFactor };
}
