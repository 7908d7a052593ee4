// A tiny Stable Diffusion in the ONNX export layout of optimum/diffusers, made by the same builders as
// the real conversion (@curator/graphs): a CLIP text encoder, a UNet2DConditionModel with SD 1.x's
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
import { writeClipTokenizer, clipMaxLength } from './clip-tokenizer.ts';

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

const textHidden = 32;

/** SD 1.x's UNet config at small widths (4 levels, 8 heads, one layer per block as in small-stable-diffusion). */
export const testUnetConfig = {
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.30.0',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [32, 32, 64, 64],
  center_input_sample: false,
  cross_attention_dim: textHidden,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 1,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 8,
  out_channels: 4,
  sample_size: 8,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
} as const;

/** SD 1.x's VAE config at small widths: four levels, so latents are 1/8 of the image as in SD. */
export function testVaeConfig(scalingFactor: number) {
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.30.0',
    act_fn: 'silu',
    block_out_channels: [16, 16, 32, 32],
    down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 1,
    norm_num_groups: 8,
    out_channels: 3,
    sample_size: 64,
    scaling_factor: scalingFactor,
    up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  };
}

export function testClipTextConfig(vocabSize: number, startId: number, endId: number, precision: Precision) {
  return {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_act: 'quick_gelu',
    hidden_size: textHidden,
    intermediate_size: textHidden * 4,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    max_position_embeddings: clipMaxLength,
    layer_norm_eps: 1e-5,
    vocab_size: vocabSize,
    bos_token_id: startId,
    eos_token_id: endId,
    pad_token_id: 1,
    torch_dtype: precision === 'fp16' ? 'float16' : 'float32',
  };
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
  return { dir, textHidden, unetChannels: testUnetConfig.block_out_channels[0], vocabSize, scalingFactor };
}
