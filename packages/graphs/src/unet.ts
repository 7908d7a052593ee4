// diffusers' UNet2DConditionModel as an ONNX graph, built from its config.json, with the I/O of
// optimum's export (sample, timestep, encoder_hidden_states -> out_sample) that the diffusion
// engine consumes. Block types: CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn (or no
// mid block), UpBlock2D, CrossAttnUpBlock2D: Stable Diffusion 1.x and 2.x.
import { DiffusionGraph, type AttentionKernel } from './diffusion-graph.ts';
import { ConfigReader, type ConfigObject } from './diffusion-config.ts';
import { conv2d, downsample2D, groupNorm, resnetBlock2D, silu, timestepEmbedding, timestepProjection, transformer2D, upsample2D, type TransformerShape } from './diffusion-blocks.ts';
import { DataType, attr, type GraphBuilder, type Precision } from './graph.ts';
import { WeightBinder, type WeightRequest, type WeightSource } from './weights.ts';
import type { WriteModelOptions, WrittenModel } from './writer.ts';

export type UnetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UnetUpBlockType = 'UpBlock2D' | 'CrossAttnUpBlock2D';

/** A UNet2DConditionModel config reduced to what the graph depends on, per block where diffusers allows. */
export interface UnetSpec {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  downBlockTypes: UnetDownBlockType[];
  upBlockTypes: UnetUpBlockType[];
  /** false when `mid_block_type` is null (diffusers then skips the mid block). */
  midBlock: boolean;
  layersPerBlock: number[];
  /** Attention heads per down block: `attention_head_dim` (diffusers' SD 1.x naming quirk). */
  heads: number[];
  crossAttentionDim: number[];
  transformerLayersPerBlock: number[];
  normNumGroups: number;
  normEps: number;
  flipSinToCos: boolean;
  freqShift: number;
  downsamplePadding: number;
  useLinearProjection: boolean;
  upcastAttention: boolean;
  centerInputSample: boolean;
  midBlockScaleFactor: number;
  resnetOutScaleFactor: number;
  convInKernel: number;
  convOutKernel: number;
  timeEmbedDim: number;
  /** Keys present in the config that the builder neither reads nor refuses (diffusers ignores unknown keys too). */
  ignoredKeys: string[];
}

const downBlockTypes: readonly string[] = ['CrossAttnDownBlock2D', 'DownBlock2D'];
const upBlockTypes: readonly string[] = ['UpBlock2D', 'CrossAttnUpBlock2D'];

/** Keys read (or checked) by parseUnetConfig; anything else is reported in `ignoredKeys`. */
const unetKeys = new Set([
  'in_channels', 'out_channels', 'block_out_channels', 'down_block_types', 'up_block_types', 'mid_block_type', 'layers_per_block',
  'attention_head_dim', 'num_attention_heads', 'cross_attention_dim', 'transformer_layers_per_block', 'reverse_transformer_layers_per_block',
  'norm_num_groups', 'norm_eps', 'flip_sin_to_cos', 'freq_shift', 'downsample_padding', 'use_linear_projection', 'upcast_attention',
  'center_input_sample', 'mid_block_scale_factor', 'resnet_out_scale_factor', 'conv_in_kernel', 'conv_out_kernel', 'act_fn',
  'only_cross_attention', 'mid_block_only_cross_attention', 'dual_cross_attention', 'class_embed_type', 'num_class_embeds',
  'class_embeddings_concat', 'projection_class_embeddings_input_dim', 'addition_embed_type', 'addition_time_embed_dim',
  'addition_embed_type_num_heads', 'encoder_hid_dim', 'encoder_hid_dim_type', 'time_embedding_type', 'time_embedding_dim',
  'time_embedding_act_fn', 'timestep_post_act', 'time_cond_proj_dim', 'resnet_time_scale_shift', 'resnet_skip_time_act',
  'attention_type', 'cross_attention_norm', 'dropout', 'sample_size',
]);

/** Validates a diffusers UNet2DConditionModel config; refuses (CuratorError model_unsupported) what the builder does not build. */
export function parseUnetConfig(config: ConfigObject): UnetSpec {
  const c = new ConfigReader('UNet2DConditionModel', config);
  const className = config._class_name;
  if (className !== undefined && className !== 'UNet2DConditionModel') c.refuse('_class_name', `= ${JSON.stringify(className)} is not a UNet2DConditionModel`);

  const down = c.strings('down_block_types', ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
  const up = c.strings('up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']);
  down.forEach((type, i) => downBlockTypes.includes(type) || c.refuse(`down_block_types.${i}`, `= ${type} is not supported (only ${downBlockTypes.join(', ')})`));
  up.forEach((type, i) => upBlockTypes.includes(type) || c.refuse(`up_block_types.${i}`, `= ${type} is not supported (only ${upBlockTypes.join(', ')})`));
  const midType = config.mid_block_type === undefined ? 'UNetMidBlock2DCrossAttn' : config.mid_block_type;
  if (midType !== null && midType !== 'UNetMidBlock2DCrossAttn') c.refuse('mid_block_type', `= ${JSON.stringify(midType)} is not supported (only UNetMidBlock2DCrossAttn or null)`);
  const blocks = down.length;
  if (up.length !== blocks) c.refuse('up_block_types', `has ${up.length} blocks, down_block_types ${blocks}`);
  const blockOutChannels = c.ints('block_out_channels', [320, 640, 1280, 1280]);
  if (blockOutChannels.length !== blocks) c.refuse('block_out_channels', `has ${blockOutChannels.length} entries for ${blocks} blocks`);

  // diffusers itself refuses num_attention_heads for this model (its attention_head_dim already means heads).
  c.absent('num_attention_heads', 'is refused by diffusers for UNet2DConditionModel (attention_head_dim holds the head count)');
  c.absent('reverse_transformer_layers_per_block', '(asymmetric transformer depth) is not supported');
  const onlyCross = config.only_cross_attention;
  if (onlyCross !== undefined && onlyCross !== false && !(Array.isArray(onlyCross) && onlyCross.every((v) => v === false))) c.refuse('only_cross_attention', 'must be false (blocks without self-attention are not supported)');
  c.only('mid_block_only_cross_attention', false);
  c.only('dual_cross_attention', false);
  c.absent('class_embed_type', '(class-conditioned UNets) is not supported');
  c.absent('num_class_embeds', '(class-conditioned UNets) is not supported');
  c.only('class_embeddings_concat', false);
  c.absent('projection_class_embeddings_input_dim', 'is not supported');
  c.absent('addition_embed_type', '(SDXL-style added embeddings) is not supported');
  c.absent('addition_time_embed_dim', 'is not supported');
  c.absent('encoder_hid_dim', '(an encoder_hid_proj) is not supported');
  c.absent('encoder_hid_dim_type', 'is not supported');
  c.only('time_embedding_type', 'positional');
  c.absent('time_embedding_act_fn', 'is not supported');
  c.absent('timestep_post_act', 'is not supported');
  c.absent('time_cond_proj_dim', '(LCM guidance embedding) is not supported');
  c.only('resnet_time_scale_shift', 'default');
  c.only('resnet_skip_time_act', false);
  c.only('attention_type', 'default');
  c.absent('cross_attention_norm', 'is not supported');
  c.only('act_fn', 'silu');
  if (config.norm_num_groups === null) c.refuse('norm_num_groups', '= null (no output norm) is not supported');

  const heads = c.perBlock('attention_head_dim', 8, blocks);
  const crossAttentionDim = c.perBlock('cross_attention_dim', 1280, blocks);
  const transformerLayersPerBlock = c.perBlock('transformer_layers_per_block', 1, blocks);
  const layersPerBlock = c.perBlock('layers_per_block', 2, blocks);
  const normNumGroups = c.int('norm_num_groups', 32);
  blockOutChannels.forEach((channels, i) => {
    if (channels % normNumGroups !== 0) c.refuse(`block_out_channels.${i}`, `= ${channels} is not a multiple of norm_num_groups ${normNumGroups}`);
    if (channels % heads[i]! !== 0) c.refuse(`attention_head_dim.${i}`, `= ${heads[i]} heads do not divide ${channels} channels`);
  });
  const convInKernel = c.int('conv_in_kernel', 3);
  const convOutKernel = c.int('conv_out_kernel', 3);
  if (convInKernel % 2 === 0) c.refuse('conv_in_kernel', 'must be odd');
  if (convOutKernel % 2 === 0) c.refuse('conv_out_kernel', 'must be odd');
  const timeEmbedDim = c.has('time_embedding_dim') ? c.int('time_embedding_dim', 0) : blockOutChannels[0]! * 4;

  return {
    inChannels: c.int('in_channels', 4),
    outChannels: c.int('out_channels', 4),
    blockOutChannels,
    downBlockTypes: down as UnetDownBlockType[],
    upBlockTypes: up as UnetUpBlockType[],
    midBlock: midType !== null,
    layersPerBlock,
    heads,
    crossAttentionDim,
    transformerLayersPerBlock,
    normNumGroups,
    normEps: c.number('norm_eps', 1e-5),
    flipSinToCos: c.bool('flip_sin_to_cos', true),
    freqShift: c.number('freq_shift', 0),
    downsamplePadding: c.int('downsample_padding', 1, 0),
    useLinearProjection: c.bool('use_linear_projection', false),
    upcastAttention: c.bool('upcast_attention', false),
    centerInputSample: c.bool('center_input_sample', false),
    midBlockScaleFactor: c.number('mid_block_scale_factor', 1),
    resnetOutScaleFactor: c.number('resnet_out_scale_factor', 1),
    convInKernel,
    convOutKernel,
    timeEmbedDim,
    ignoredKeys: Object.keys(config).filter((key) => !key.startsWith('_') && !unetKeys.has(key)),
  };
}

export interface UnetGraphOptions {
  precision?: Precision;
  /** optimum exports an int64 timestep (the default), diffusers' old ONNX script a float one (in the graph's float type). */
  timestepType?: 'int64' | 'float';
  /** `fused` (default): onnxruntime's MultiHeadAttention; `standard`: MatMul/Softmax/MatMul. */
  attentionKernel?: AttentionKernel;
}

interface UnetContext {
  net: DiffusionGraph;
  spec: UnetSpec;
  context: string;
  temb: { value: string; channels: number };
}

/** The Transformer2DModel of block `b` (a down-block index; up block i mirrors down block n-1-i) at `channels`. */
function transformerShape(spec: UnetSpec, b: number, channels: number): TransformerShape {
  return { channels, heads: spec.heads[b]!, crossAttentionDim: spec.crossAttentionDim[b]!, layers: spec.transformerLayersPerBlock[b]!, groups: spec.normNumGroups, useLinearProjection: spec.useLinearProjection, upcastAttention: spec.upcastAttention };
}

function unetResnet(u: UnetContext, x: string, prefix: string, inChannels: number, outChannels: number, outputScaleFactor: number): string {
  return resnetBlock2D(u.net, x, prefix, { inChannels, outChannels, groups: u.spec.normNumGroups, eps: u.spec.normEps, temb: u.temb, outputScaleFactor });
}

/** The time embedding after the SiLU every ResnetBlock2D applies to it: time_proj, time_embedding, SiLU. */
function timeEmbedding(net: DiffusionGraph, spec: UnetSpec, timestep: string, sample: string, timestepType: 'int64' | 'float'): { value: string; channels: number } {
  const t32 = timestepType === 'float' ? net.toFloat32(timestep) : net.g.cast(timestep, DataType.FLOAT);
  // diffusers broadcasts one timestep to the whole batch.
  const batch = net.op('Slice', [net.op('Shape', [sample]), net.int64s([0]), net.int64s([1])]);
  const perSample = net.op('Expand', [t32, batch]);
  const features = net.fromFloat32(timestepProjection(net, perSample, spec.blockOutChannels[0]!, spec.flipSinToCos, spec.freqShift));
  const emb = timestepEmbedding(net, features, 'time_embedding', spec.blockOutChannels[0]!, spec.timeEmbedDim);
  return { value: silu(net, emb), channels: spec.timeEmbedDim };
}

/** CrossAttnDownBlock2D / DownBlock2D `down_blocks.i`; pushes every output the up path concatenates. */
function downBlock(u: UnetContext, x: string, i: number, inChannels: number, skips: Array<{ value: string; channels: number }>): string {
  const { spec, net } = u;
  const prefix = `down_blocks.${i}`;
  const out = spec.blockOutChannels[i]!;
  const withAttention = spec.downBlockTypes[i] === 'CrossAttnDownBlock2D';
  let h = x;
  for (let j = 0; j < spec.layersPerBlock[i]!; j++) {
    h = unetResnet(u, h, `${prefix}.resnets.${j}`, j === 0 ? inChannels : out, out, spec.resnetOutScaleFactor);
    if (withAttention) h = transformer2D(net, h, u.context, `${prefix}.attentions.${j}`, transformerShape(spec, i, out));
    skips.push({ value: h, channels: out });
  }
  if (i < spec.blockOutChannels.length - 1) {
    h = downsample2D(net, h, `${prefix}.downsamplers.0`, out, spec.downsamplePadding);
    skips.push({ value: h, channels: out });
  }
  return h;
}

/** UNetMidBlock2DCrossAttn `mid_block`: resnet, then (transformer, resnet) once. */
function midBlock(u: UnetContext, x: string): string {
  const { spec, net } = u;
  const last = spec.blockOutChannels.length - 1;
  const channels = spec.blockOutChannels[last]!;
  let h = unetResnet(u, x, 'mid_block.resnets.0', channels, channels, spec.midBlockScaleFactor);
  h = transformer2D(net, h, u.context, 'mid_block.attentions.0', transformerShape(spec, last, channels));
  return unetResnet(u, h, 'mid_block.resnets.1', channels, channels, spec.midBlockScaleFactor);
}

/** UpBlock2D / CrossAttnUpBlock2D `up_blocks.i`: each layer concatenates the latest skip connection. */
function upBlock(u: UnetContext, x: string, i: number, prevOutputChannels: number, skips: Array<{ value: string; channels: number }>): string {
  const { spec, net } = u;
  const prefix = `up_blocks.${i}`;
  const n = spec.blockOutChannels.length;
  const reversed = [...spec.blockOutChannels].reverse();
  const out = reversed[i]!;
  const inChannels = reversed[Math.min(i + 1, n - 1)]!;
  const down = n - 1 - i;
  const layers = spec.layersPerBlock[down]! + 1;
  const withAttention = spec.upBlockTypes[i] === 'CrossAttnUpBlock2D';
  let h = x;
  for (let j = 0; j < layers; j++) {
    const skip = skips.pop()!;
    const skipChannels = j === layers - 1 ? inChannels : out;
    if (skip.channels !== skipChannels) throw new Error(`${prefix}.resnets.${j}: skip connection has ${skip.channels} channels, the block expects ${skipChannels}`);
    const resnetIn = j === 0 ? prevOutputChannels : out;
    h = net.op('Concat', [h, skip.value], { axis: attr.int(1) });
    h = unetResnet(u, h, `${prefix}.resnets.${j}`, resnetIn + skipChannels, out, spec.resnetOutScaleFactor);
    if (withAttention) h = transformer2D(net, h, u.context, `${prefix}.attentions.${j}`, transformerShape(spec, down, out));
  }
  if (i < n - 1) h = upsample2D(net, h, `${prefix}.upsamplers.0`, out, skips[skips.length - 1]!.value);
  return h;
}

/** The UNet graph of `config` (or its parsed spec); weights are requested through `weights`, loaded when the graph is saved. */
export function buildUnet(config: ConfigObject | UnetSpec, weights: WeightBinder, options: UnetGraphOptions = {}): GraphBuilder {
  const spec = isUnetSpec(config) ? config : parseUnetConfig(config);
  const net = new DiffusionGraph('unet', options.precision ?? 'fp32', weights, { attentionKernel: options.attentionKernel });
  const timestepType = options.timestepType ?? 'int64';
  if (spec.crossAttentionDim.some((d) => d !== spec.crossAttentionDim[0])) throw new Error('cross_attention_dim must be the same for every block (one encoder_hidden_states input)');
  let sample = net.input('sample', 'float', ['batch_size', spec.inChannels, 'height', 'width']);
  const timestep = net.input('timestep', timestepType, ['steps']);
  const context = net.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', spec.crossAttentionDim[0]!]);

  if (spec.centerInputSample) sample = net.op('Sub', [net.op('Mul', [sample, net.floats([2], [], 'two')]), net.floats([1], [], 'one')]);
  const u: UnetContext = { net, spec, context, temb: timeEmbedding(net, spec, timestep, sample, timestepType) };

  let h = conv2d(net, sample, 'conv_in', { inChannels: spec.inChannels, outChannels: spec.blockOutChannels[0]!, kernel: spec.convInKernel });
  const skips = [{ value: h, channels: spec.blockOutChannels[0]! }];
  let channels = spec.blockOutChannels[0]!;
  spec.downBlockTypes.forEach((_, i) => {
    h = downBlock(u, h, i, channels, skips);
    channels = spec.blockOutChannels[i]!;
  });
  if (spec.midBlock) h = midBlock(u, h);
  spec.upBlockTypes.forEach((_, i) => {
    h = upBlock(u, h, i, channels, skips);
    channels = [...spec.blockOutChannels].reverse()[i]!;
  });
  if (skips.length !== 0) throw new Error(`${skips.length} skip connections left unused`);

  h = silu(net, groupNorm(net, h, 'conv_norm_out', channels, spec.normNumGroups, spec.normEps));
  const out = conv2d(net, h, 'conv_out', { inChannels: channels, outChannels: spec.outChannels, kernel: spec.convOutKernel });
  net.output('out_sample', ['batch_size', spec.outChannels, 'height', 'width'], out);
  return net.g;
}

function isUnetSpec(value: ConfigObject | UnetSpec): value is UnetSpec {
  return Array.isArray((value as UnetSpec).downBlockTypes);
}

export interface WrittenUnet {
  file: WrittenModel;
  requested: WeightRequest[];
}

/**
 * Builds and writes the UNet of `config` to `path` (`unet/model.onnx`). The real Stable Diffusion
 * UNets pass protobuf's 2 GB limit in fp32: their weights go to `model.onnx_data` beside the graph.
 */
export async function writeUnet(
  path: string,
  config: ConfigObject,
  weights: WeightSource,
  options: UnetGraphOptions & Pick<WriteModelOptions, 'externalData' | 'externalDataAbove' | 'onProgress'> = {},
): Promise<WrittenUnet> {
  const binder = new WeightBinder(weights);
  const graph = buildUnet(config, binder, options);
  const file = await graph.save(path, {
    ...(options.externalData ? { externalData: { file: options.externalData.file, threshold: options.externalData.minTensorBytes } } : {}),
    externalDataAbove: options.externalDataAbove,
    onProgress: options.onProgress,
  });
  return { file, requested: binder.requested };
}

/** The state-dict names and shapes of a UNet2DConditionModel of `config` (what the builder asks a WeightSource for). */
export function unetWeightRequests(config: ConfigObject): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildUnet(config, binder);
  return binder.requested;
}
