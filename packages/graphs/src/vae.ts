// diffusers' AutoencoderKL as two ONNX graphs built from its config.json: the decoder with
// post_quant_conv (optimum's vae_decoder: latent_sample -> sample, what the diffusion engine
// consumes) and the encoder with quant_conv (sample -> latent_mean, latent_logvar), so that every
// tensor of the state dict has a place. Block types: DownEncoderBlock2D, UpDecoderBlock2D, with the
// UNetMidBlock2D (attention on by default) between them: Stable Diffusion's VAE.
import { DiffusionGraph, type AttentionKernel } from './diffusion-graph.ts';
import { attr, type GraphBuilder, type Precision } from './graph.ts';
import { WeightBinder, type WeightRequest, type WeightSource } from './weights.ts';
import type { WriteModelOptions, WrittenModel } from './writer.ts';
import { ConfigReader, type ConfigObject } from './diffusion-config.ts';
import { conv2d, downsample2D, groupNorm, resnetBlock2D, silu, upsample2D, vaeAttention, type VaeAttentionKeys } from './diffusion-blocks.ts';

export type { VaeAttentionKeys } from './diffusion-blocks.ts';

export interface VaeSpec {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normNumGroups: number;
  useQuantConv: boolean;
  usePostQuantConv: boolean;
  midBlockAddAttention: boolean;
  /** Keys present in the config that the builder neither reads nor refuses. */
  ignoredKeys: string[];
}

/** diffusers fixes the VAE's GroupNorm epsilon at 1e-6 (resnets, attention and output norms). */
const vaeEps = 1e-6;

/** Keys read or checked. `scaling_factor`, `shift_factor`, `latents_mean/std` and `force_upcast` are the pipeline's business. */
const vaeKeys = new Set([
  'in_channels', 'out_channels', 'latent_channels', 'block_out_channels', 'down_block_types', 'up_block_types', 'layers_per_block',
  'norm_num_groups', 'act_fn', 'use_quant_conv', 'use_post_quant_conv', 'mid_block_add_attention', 'sample_size', 'scaling_factor',
  'shift_factor', 'latents_mean', 'latents_std', 'force_upcast',
]);

/** Validates a diffusers AutoencoderKL config; refuses (CuratorError model_unsupported) what the builder does not build. */
export function parseVaeConfig(config: ConfigObject): VaeSpec {
  const c = new ConfigReader('AutoencoderKL', config);
  const className = config._class_name;
  if (className !== undefined && className !== 'AutoencoderKL') c.refuse('_class_name', `= ${JSON.stringify(className)} is not an AutoencoderKL`);
  const blockOutChannels = c.ints('block_out_channels', [64]);
  const down = c.strings('down_block_types', ['DownEncoderBlock2D']);
  const up = c.strings('up_block_types', ['UpDecoderBlock2D']);
  down.forEach((type, i) => type === 'DownEncoderBlock2D' || c.refuse(`down_block_types.${i}`, `= ${type} is not supported (only DownEncoderBlock2D)`));
  up.forEach((type, i) => type === 'UpDecoderBlock2D' || c.refuse(`up_block_types.${i}`, `= ${type} is not supported (only UpDecoderBlock2D)`));
  if (down.length !== blockOutChannels.length) c.refuse('down_block_types', `has ${down.length} blocks, block_out_channels ${blockOutChannels.length}`);
  if (up.length !== blockOutChannels.length) c.refuse('up_block_types', `has ${up.length} blocks, block_out_channels ${blockOutChannels.length}`);
  c.only('act_fn', 'silu');
  const normNumGroups = c.int('norm_num_groups', 32);
  blockOutChannels.forEach((channels, i) => channels % normNumGroups === 0 || c.refuse(`block_out_channels.${i}`, `= ${channels} is not a multiple of norm_num_groups ${normNumGroups}`));
  return {
    inChannels: c.int('in_channels', 3),
    outChannels: c.int('out_channels', 3),
    latentChannels: c.int('latent_channels', 4),
    blockOutChannels,
    layersPerBlock: c.int('layers_per_block', 1),
    normNumGroups,
    useQuantConv: c.bool('use_quant_conv', true),
    usePostQuantConv: c.bool('use_post_quant_conv', true),
    midBlockAddAttention: c.bool('mid_block_add_attention', true),
    ignoredKeys: Object.keys(config).filter((key) => !key.startsWith('_') && !vaeKeys.has(key)),
  };
}

export interface VaeGraphOptions {
  precision?: Precision;
  /** The checkpoint's names for the mid-block attention: `to_q`... (current, default) or `query`... (diffusers < 0.14). */
  attentionKeys?: VaeAttentionKeys;
  /** `fused` (default): onnxruntime's MultiHeadAttention; `standard`: MatMul/Softmax/MatMul. */
  attentionKernel?: AttentionKernel;
}

/** Which attention names a VAE checkpoint uses, from its tensor names. */
export function vaeAttentionKeysOf(names: Iterable<string>): VaeAttentionKeys {
  for (const name of names) if (/\.attentions\.\d+\.query\.weight$/.test(name)) return 'legacy';
  return 'current';
}

/** UNetMidBlock2D `prefix` without time embedding: resnet, (attention, resnet). */
function vaeMidBlock(net: DiffusionGraph, x: string, prefix: string, spec: VaeSpec, keys: VaeAttentionKeys): string {
  const channels = spec.blockOutChannels[spec.blockOutChannels.length - 1]!;
  const resnet = (v: string, j: number) => resnetBlock2D(net, v, `${prefix}.resnets.${j}`, { inChannels: channels, outChannels: channels, groups: spec.normNumGroups, eps: vaeEps });
  let h = resnet(x, 0);
  if (spec.midBlockAddAttention) h = vaeAttention(net, h, `${prefix}.attentions.0`, channels, spec.normNumGroups, vaeEps, keys);
  return resnet(h, 1);
}

/** Encoder `encoder` + quant_conv: image [B, in, H, W] -> moments [B, 2 * latent, H / f, W / f]. */
function encoder(net: DiffusionGraph, x: string, spec: VaeSpec, keys: VaeAttentionKeys): string {
  const channels = spec.blockOutChannels;
  let h = conv2d(net, x, 'encoder.conv_in', { inChannels: spec.inChannels, outChannels: channels[0]!, kernel: 3 });
  let current = channels[0]!;
  channels.forEach((out, i) => {
    for (let j = 0; j < spec.layersPerBlock; j++) {
      h = resnetBlock2D(net, h, `encoder.down_blocks.${i}.resnets.${j}`, { inChannels: j === 0 ? current : out, outChannels: out, groups: spec.normNumGroups, eps: vaeEps });
    }
    current = out;
    // DownEncoderBlock2D's downsampler has padding 0: diffusers pads bottom/right by one.
    if (i < channels.length - 1) h = downsample2D(net, h, `encoder.down_blocks.${i}.downsamplers.0`, out, 0);
  });
  h = vaeMidBlock(net, h, 'encoder.mid_block', spec, keys);
  h = silu(net, groupNorm(net, h, 'encoder.conv_norm_out', current, spec.normNumGroups, vaeEps));
  const moments = 2 * spec.latentChannels;
  h = conv2d(net, h, 'encoder.conv_out', { inChannels: current, outChannels: moments, kernel: 3 });
  return spec.useQuantConv ? conv2d(net, h, 'quant_conv', { inChannels: moments, outChannels: moments, kernel: 1 }) : h;
}

/** post_quant_conv + Decoder `decoder`: latents [B, latent, h, w] -> image [B, out, h * f, w * f]. */
function decoder(net: DiffusionGraph, z: string, spec: VaeSpec, keys: VaeAttentionKeys): string {
  const reversed = [...spec.blockOutChannels].reverse();
  let h = spec.usePostQuantConv ? conv2d(net, z, 'post_quant_conv', { inChannels: spec.latentChannels, outChannels: spec.latentChannels, kernel: 1 }) : z;
  h = conv2d(net, h, 'decoder.conv_in', { inChannels: spec.latentChannels, outChannels: reversed[0]!, kernel: 3 });
  h = vaeMidBlock(net, h, 'decoder.mid_block', spec, keys);
  let current = reversed[0]!;
  reversed.forEach((out, i) => {
    for (let j = 0; j < spec.layersPerBlock + 1; j++) {
      h = resnetBlock2D(net, h, `decoder.up_blocks.${i}.resnets.${j}`, { inChannels: j === 0 ? current : out, outChannels: out, groups: spec.normNumGroups, eps: vaeEps });
    }
    current = out;
    if (i < reversed.length - 1) h = upsample2D(net, h, `decoder.up_blocks.${i}.upsamplers.0`, out);
  });
  h = silu(net, groupNorm(net, h, 'decoder.conv_norm_out', current, spec.normNumGroups, vaeEps));
  return conv2d(net, h, 'decoder.conv_out', { inChannels: current, outChannels: spec.outChannels, kernel: 3 });
}

function vaeSpec(config: ConfigObject | VaeSpec): VaeSpec {
  return Array.isArray((config as VaeSpec).blockOutChannels) ? (config as VaeSpec) : parseVaeConfig(config as ConfigObject);
}

/** optimum's vae_decoder: `latent_sample` -> `sample` (before any scaling or clamping, like diffusers' decode). */
export function buildVaeDecoder(config: ConfigObject | VaeSpec, weights: WeightBinder, options: VaeGraphOptions = {}): GraphBuilder {
  const spec = vaeSpec(config);
  const net = new DiffusionGraph('vae_decoder', options.precision ?? 'fp32', weights, { attentionKernel: options.attentionKernel });
  const latent = net.input('latent_sample', 'float', ['batch_size', spec.latentChannels, 'latent_height', 'latent_width']);
  net.output('sample', ['batch_size', spec.outChannels, 'height', 'width'], decoder(net, latent, spec, options.attentionKeys ?? 'current'));
  return net.g;
}

/**
 * The encoder: `sample` -> `latent_mean`, `latent_logvar` (the posterior's parameters; the logvar
 * clamped to [-30, 20] as DiagonalGaussianDistribution does). Sampling stays with the caller.
 */
export function buildVaeEncoder(config: ConfigObject | VaeSpec, weights: WeightBinder, options: VaeGraphOptions = {}): GraphBuilder {
  const spec = vaeSpec(config);
  const net = new DiffusionGraph('vae_encoder', options.precision ?? 'fp32', weights, { attentionKernel: options.attentionKernel });
  const image = net.input('sample', 'float', ['batch_size', spec.inChannels, 'height', 'width']);
  const moments = encoder(net, image, spec, options.attentionKeys ?? 'current');
  const half = spec.latentChannels;
  const [mean, logvar] = net.g.node('Split', [moments, net.int64s([half, half])], { axis: attr.int(1) }, 2);
  const clamped = net.op('Clip', [logvar!, net.floats([-30], [], 'logvar_min'), net.floats([20], [], 'logvar_max')]);
  const dims = ['batch_size', half, 'latent_height', 'latent_width'];
  net.output('latent_mean', dims, mean!);
  net.output('latent_logvar', dims, clamped);
  return net.g;
}

export interface WrittenVaePart {
  file: WrittenModel;
  requested: WeightRequest[];
}

type WriteVaeOptions = VaeGraphOptions & Pick<WriteModelOptions, 'externalDataAbove' | 'onProgress'>;

async function writeVaePart(build: typeof buildVaeDecoder, path: string, config: ConfigObject, weights: WeightSource, options: WriteVaeOptions): Promise<WrittenVaePart> {
  const binder = new WeightBinder(weights);
  const file = await build(config, binder, options).save(path, { externalDataAbove: options.externalDataAbove, onProgress: options.onProgress });
  return { file, requested: binder.requested };
}

/** Builds and writes the decoder (with post_quant_conv) of `config` to `path` (`vae_decoder/model.onnx`). */
export function writeVaeDecoder(path: string, config: ConfigObject, weights: WeightSource, options: WriteVaeOptions = {}): Promise<WrittenVaePart> {
  return writeVaePart(buildVaeDecoder, path, config, weights, options);
}

/** Builds and writes the encoder (with quant_conv) of `config` to `path` (`vae_encoder/model.onnx`). */
export function writeVaeEncoder(path: string, config: ConfigObject, weights: WeightSource, options: WriteVaeOptions = {}): Promise<WrittenVaePart> {
  return writeVaePart(buildVaeEncoder, path, config, weights, options);
}

/** Every state-dict name and shape of the AutoencoderKL of `config` (encoder and decoder together). */
export function vaeWeightRequests(config: ConfigObject, attentionKeys: VaeAttentionKeys = 'current'): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildVaeEncoder(config, binder, { attentionKeys });
  buildVaeDecoder(config, binder, { attentionKeys });
  return binder.requested;
}
