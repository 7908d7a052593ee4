// A tiny Stable Diffusion in the ONNX export layout of optimum/diffusers: a CLIP-like text encoder,
// a conditional UNet with ResNet blocks, cross-attention, skip connections and a downsample/upsample,
// and a VAE decoder that upsamples latents x8 to RGB. Random weights; the shapes, names, dtypes and
// folder layout are the real ones, so the pipeline code cannot tell it from a real export.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, attr, type Precision } from '@curator/graphs/graph';
import { SeededRandom } from '@curator/graphs/random';
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
const textHeads = 2;
const textLayers = 2;
const unetChannels = 16;
const vaeChannels = 16;
const groups = 4;
const latentChannels = 4;

/** Building blocks shared by the three graphs. */
class Blocks {
  readonly g: GraphBuilder;
  private readonly rng: SeededRandom;
  private count = 0;

  constructor(g: GraphBuilder, rng: SeededRandom) {
    this.g = g;
    this.rng = rng;
  }

  private name(hint: string): string {
    return `${hint}.${this.count++}`;
  }

  param(hint: string, dims: number[], std: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.g.weight(this.name(hint), this.rng.normals(size, std), dims);
  }

  /** Normal(mean, std) values, e.g. norm scales near 1. */
  around(hint: string, dims: number[], mean: number, std: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.g.weight(this.name(hint), this.rng.normals(size, std).map((v) => v + mean), dims);
  }

  filled(hint: string, dims: number[], value: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.g.weight(this.name(hint), new Float32Array(size).fill(value), dims);
  }

  /** x[..., inDim] @ W + b */
  linear(x: string, inDim: number, outDim: number, bias = true): string {
    const y = this.g.op('MatMul', [x, this.param('linear.weight', [inDim, outDim], 1 / Math.sqrt(inDim))]);
    return bias ? this.g.op('Add', [y, this.param('linear.bias', [outDim], 0.02)]) : y;
  }

  layerNorm(x: string, dim: number): string {
    return this.g.op('LayerNormalization', [x, this.filled('ln.weight', [dim], 1), this.filled('ln.bias', [dim], 0)], { axis: attr.int(-1), epsilon: attr.float(1e-5) });
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  conv(x: string, cin: number, cout: number, kernel: number, stride = 1): string {
    const pad = Math.floor(kernel / 2);
    const w = this.param('conv.weight', [cout, cin, kernel, kernel], 1 / Math.sqrt(cin * kernel * kernel));
    const b = this.param('conv.bias', [cout], 0.02);
    return this.g.op('Conv', [x, w, b], { pads: attr.ints([pad, pad, pad, pad]), strides: attr.ints([stride, stride]) });
  }

  /** GroupNorm as exported for opset < 18: reshape to groups, InstanceNormalization, reshape back, affine. */
  groupNorm(x: string, channels: number): string {
    const g = this.g;
    const grouped = g.op('Reshape', [x, g.int64s([0, groups, -1])]);
    const normed = g.op('InstanceNormalization', [grouped, g.constant('float', new Array(groups).fill(1), [groups]), g.constant('float', new Array(groups).fill(0), [groups])], {
      epsilon: attr.float(1e-5),
    });
    const back = g.op('Reshape', [normed, g.op('Shape', [x])]);
    const scaled = g.op('Mul', [back, this.around('gn.weight', [channels, 1, 1], 1, 0.1)]);
    return g.op('Add', [scaled, this.param('gn.bias', [channels, 1, 1], 0.02)]);
  }

  resnet(x: string, cin: number, cout: number, temb?: { value: string; dim: number }): string {
    const g = this.g;
    let h = this.conv(this.silu(this.groupNorm(x, cin)), cin, cout, 3);
    if (temb) {
      const t = this.linear(this.silu(temb.value), temb.dim, cout);
      h = g.op('Add', [h, g.op('Unsqueeze', [t, g.int64s([2, 3])])]);
    }
    h = this.conv(this.silu(this.groupNorm(h, cout)), cout, cout, 3);
    const skip = cin === cout ? x : this.conv(x, cin, cout, 1);
    return g.op('Add', [skip, h]);
  }

  /** Spatial transformer reduced to one head of cross-attention from pixels to text states. */
  crossAttention(x: string, channels: number, context: string, contextDim: number): string {
    const g = this.g;
    const shape = g.op('Shape', [x]);
    const flat = g.op('Reshape', [this.groupNorm(x, channels), g.int64s([0, channels, -1])]);
    const tokens = this.layerNorm(g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) }), channels);
    const q = this.linear(tokens, channels, channels, false);
    const k = this.linear(context, contextDim, channels, false);
    const v = this.linear(context, contextDim, channels, false);
    const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 2, 1]) })]), g.scalar(1 / Math.sqrt(channels))]);
    const attended = g.op('MatMul', [g.op('Softmax', [scores], { axis: attr.int(-1) }), v]);
    const projected = this.linear(attended, channels, channels);
    const back = g.op('Reshape', [g.op('Transpose', [projected], { perm: attr.ints([0, 2, 1]) }), shape]);
    return g.op('Add', [x, back]);
  }

  upsample(x: string, channels: number): string {
    const g = this.g;
    const up = g.op('Resize', [x, '', g.constant('float', [1, 1, 2, 2], [4], 'scales')], {
      mode: attr.string('nearest'),
      coordinate_transformation_mode: attr.string('asymmetric'),
      nearest_mode: attr.string('floor'),
    });
    return this.conv(up, channels, channels, 3);
  }
}

function textEncoder(precision: Precision, rng: SeededRandom, vocabSize: number, idsType: 'int32' | 'int64'): GraphBuilder {
  const g = new GraphBuilder('text_encoder', { precision });
  const b = new Blocks(g, rng);
  const ids = g.input('input_ids', idsType, ['batch_size', clipMaxLength]);
  const tokens = g.op('Gather', [b.param('token_embedding', [vocabSize, textHidden], 0.5), ids], { axis: attr.int(0) });
  let x = g.op('Add', [tokens, b.param('position_embedding', [clipMaxLength, textHidden], 0.1)]);
  const mask = new Float32Array(clipMaxLength * clipMaxLength);
  for (let i = 0; i < clipMaxLength; i++) for (let j = i + 1; j < clipMaxLength; j++) mask[i * clipMaxLength + j] = -1e9;
  const causal = g.constant('float', mask, [clipMaxLength, clipMaxLength], 'causal_mask');
  const headDim = textHidden / textHeads;
  for (let layer = 0; layer < textLayers; layer++) {
    const h = b.layerNorm(x, textHidden);
    const heads = (v: string) => g.op('Transpose', [g.op('Reshape', [v, g.int64s([0, 0, textHeads, headDim])])], { perm: attr.ints([0, 2, 1, 3]) });
    const q = heads(b.linear(h, textHidden, textHidden));
    const k = heads(b.linear(h, textHidden, textHidden));
    const v = heads(b.linear(h, textHidden, textHidden));
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) })]), g.scalar(1 / Math.sqrt(headDim))]), causal]);
    const attended = g.op('MatMul', [g.op('Softmax', [scores], { axis: attr.int(-1) }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [attended], { perm: attr.ints([0, 2, 1, 3]) }), g.int64s([0, 0, textHidden])]);
    x = g.op('Add', [x, b.linear(merged, textHidden, textHidden)]);
    const m = b.linear(b.layerNorm(x, textHidden), textHidden, textHidden * 4);
    const quickGelu = g.op('Mul', [m, g.op('Sigmoid', [g.op('Mul', [m, g.scalar(1.702)])])]);
    x = g.op('Add', [x, b.linear(quickGelu, textHidden * 4, textHidden)]);
  }
  g.output('last_hidden_state', 'float', ['batch_size', clipMaxLength, textHidden], b.layerNorm(x, textHidden));
  return g;
}

function unet(precision: Precision, rng: SeededRandom, timestepType: 'int64' | 'float'): GraphBuilder {
  const g = new GraphBuilder('unet', { precision });
  const b = new Blocks(g, rng);
  const C = unetChannels;
  const sample = g.input('sample', 'float', ['batch_size', latentChannels, 'height', 'width']);
  const timestepIn = g.input('timestep', timestepType, ['steps']);
  const context = g.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', textHidden]);

  // Sinusoidal embedding (flip_sin_to_cos: cos first), then the time MLP.
  const half = C / 2;
  const freqs = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const t = g.op('Unsqueeze', [timestepType === 'float' ? timestepIn : g.cast(timestepIn, 1), g.int64s([1])]);
  const angles = g.op('Mul', [t, g.constant('float', freqs, [1, half], 'freqs')]);
  const sinusoid = g.op('Concat', [g.op('Cos', [angles]), g.op('Sin', [angles])], { axis: attr.int(1) });
  const tembDim = C * 4;
  const temb = { value: b.linear(b.silu(b.linear(sinusoid, C, tembDim)), tembDim, tembDim), dim: tembDim };

  const s0 = b.conv(sample, latentChannels, C, 3);
  let h = b.crossAttention(b.resnet(s0, C, C, temb), C, context, textHidden);
  const s1 = h;
  h = b.conv(h, C, C, 3, 2);
  h = b.crossAttention(b.resnet(h, C, 2 * C, temb), 2 * C, context, textHidden);
  const s2 = h;
  // Mid block
  h = b.resnet(b.crossAttention(b.resnet(h, 2 * C, 2 * C, temb), 2 * C, context, textHidden), 2 * C, 2 * C, temb);
  // Up blocks with skip connections
  h = b.crossAttention(b.resnet(g.op('Concat', [h, s2], { axis: attr.int(1) }), 4 * C, 2 * C, temb), 2 * C, context, textHidden);
  h = b.upsample(h, 2 * C);
  h = b.crossAttention(b.resnet(g.op('Concat', [h, s1], { axis: attr.int(1) }), 3 * C, C, temb), C, context, textHidden);
  h = b.resnet(g.op('Concat', [h, s0], { axis: attr.int(1) }), 2 * C, C, temb);
  const out = b.conv(b.silu(b.groupNorm(h, C)), C, latentChannels, 3);
  g.output('out_sample', 'float', ['batch_size', latentChannels, 'height', 'width'], out);
  return g;
}

function vaeDecoder(precision: Precision, rng: SeededRandom): GraphBuilder {
  const g = new GraphBuilder('vae_decoder', { precision });
  const b = new Blocks(g, rng);
  const C = vaeChannels;
  const latent = g.input('latent_sample', 'float', ['batch_size', latentChannels, 'latent_height', 'latent_width']);
  let h = b.conv(latent, latentChannels, latentChannels, 1); // post_quant_conv
  h = b.conv(h, latentChannels, C, 3);
  h = b.resnet(h, C, C);
  for (let stage = 0; stage < 3; stage++) h = b.upsample(h, C);
  const rgb = b.conv(b.silu(b.groupNorm(h, C)), C, 3, 3);
  g.output('sample', 'float', ['batch_size', 3, 'height', 'width'], rgb);
  return g;
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
  const rng = new SeededRandom(options.seed ?? 1234);
  const scalingFactor = options.scalingFactor ?? 0.18215;
  await mkdir(dir, { recursive: true });
  const { vocabSize, startId, endId } = await writeClipTokenizer(join(dir, 'tokenizer'));

  await textEncoder(precision, rng, vocabSize, options.inputIdsType ?? 'int32').save(join(dir, 'text_encoder', 'model.onnx'));
  await writeJson(join(dir, 'text_encoder', 'config.json'), {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: textHidden,
    num_attention_heads: textHeads,
    num_hidden_layers: textLayers,
    max_position_embeddings: clipMaxLength,
    vocab_size: vocabSize,
    bos_token_id: startId,
    eos_token_id: endId,
    pad_token_id: 1,
    torch_dtype: precision === 'fp16' ? 'float16' : 'float32',
  });

  await unet(precision, rng, options.timestepType ?? 'int64').save(
    join(dir, 'unet', 'model.onnx'),
    options.externalData ? { externalData: { file: 'model.onnx_data', threshold: 1024 } } : {},
  );
  await writeJson(join(dir, 'unet', 'config.json'), {
    _class_name: 'UNet2DConditionModel',
    in_channels: latentChannels,
    out_channels: latentChannels,
    block_out_channels: [unetChannels, 2 * unetChannels],
    cross_attention_dim: textHidden,
    sample_size: 8,
  });

  await vaeDecoder(precision, rng).save(join(dir, 'vae_decoder', 'model.onnx'));
  await writeJson(join(dir, 'vae_decoder', 'config.json'), {
    _class_name: 'AutoencoderKL',
    latent_channels: latentChannels,
    out_channels: 3,
    block_out_channels: [vaeChannels],
    scaling_factor: scalingFactor,
    sample_size: 64,
  });

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
  return { dir, textHidden, unetChannels, vocabSize, scalingFactor };
}
