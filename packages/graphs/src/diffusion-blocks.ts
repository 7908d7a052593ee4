// diffusers' building blocks as ONNX subgraphs, one function per module, weights by the module's
// state-dict prefix: ResnetBlock2D, Transformer2DModel with BasicTransformerBlock (self- and
// cross-attention, GEGLU feed-forward), Downsample2D, Upsample2D, the sinusoidal time projection and
// TimestepEmbedding, and the VAE's mid-block Attention (old and new key names).
import { attr } from './graph.ts';
import type { DiffusionGraph } from './diffusion-graph.ts';

/** `x @ W^T + b` for a PyTorch Linear `prefix` ([out, in] weight); x is [..., in]. */
export function linear(net: DiffusionGraph, x: string, prefix: string, inFeatures: number, outFeatures: number, bias = true): string {
  const w = net.param(`${prefix}.weight`, [outFeatures, inFeatures], { transpose: true });
  const y = net.op('MatMul', [x, w], {}, prefix);
  return bias ? net.op('Add', [y, net.param(`${prefix}.bias`, [outFeatures])], {}, prefix) : y;
}

export interface ConvShape {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  /** ONNX order: [top, left, bottom, right]; PyTorch's symmetric padding (kernel - 1) / 2 by default. */
  pads?: [number, number, number, number];
}

/** nn.Conv2d `prefix` with bias. */
export function conv2d(net: DiffusionGraph, x: string, prefix: string, shape: ConvShape): string {
  const { inChannels, outChannels, kernel, stride = 1 } = shape;
  const p = Math.floor((kernel - 1) / 2);
  const w = net.param(`${prefix}.weight`, [outChannels, inChannels, kernel, kernel]);
  const b = net.param(`${prefix}.bias`, [outChannels]);
  return net.op('Conv', [x, w, b], { kernel_shape: attr.ints([kernel, kernel]), pads: attr.ints(shape.pads ?? [p, p, p, p]), strides: attr.ints([stride, stride]) }, prefix);
}

export function silu(net: DiffusionGraph, x: string): string {
  return net.op('Mul', [x, net.op('Sigmoid', [x])]);
}

/**
 * nn.GroupNorm `prefix` on [N, C, ...]: statistics per group as InstanceNormalization over the
 * grouped view (onnxruntime's CPU provider has a kernel for it; opset 18's GroupNormalization is
 * expanded into a dozen slower ops there), then the per-channel affine. Always in float32: the
 * statistics of a 64x64x320 group do not fit float16 arithmetic, and the CPU provider has no
 * float16 InstanceNormalization anyway.
 */
export function groupNorm(net: DiffusionGraph, x: string, prefix: string, channels: number, groups: number, eps: number): string {
  if (channels % groups !== 0) throw new Error(`${prefix}: ${channels} channels do not split into ${groups} groups`);
  const x32 = net.toFloat32(x);
  const grouped = net.op('Reshape', [x32, net.int64s([0, groups, -1])]);
  const ones = net.floats32(new Array(groups).fill(1), [groups], 'gn_ones');
  const zeros = net.floats32(new Array(groups).fill(0), [groups], 'gn_zeros');
  const normed = net.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: attr.float(eps) }, prefix);
  const back = net.fromFloat32(net.op('Reshape', [normed, net.op('Shape', [x])]));
  const scale = net.param(`${prefix}.weight`, [channels], { dims: [channels, 1, 1] });
  const shift = net.param(`${prefix}.bias`, [channels], { dims: [channels, 1, 1] });
  return net.op('Add', [net.op('Mul', [back, scale]), shift], {}, prefix);
}

/** nn.LayerNorm `prefix` over the last axis. */
export function layerNorm(net: DiffusionGraph, x: string, prefix: string, dim: number, eps: number): string {
  const scale = net.param(`${prefix}.weight`, [dim]);
  const shift = net.param(`${prefix}.bias`, [dim]);
  return net.op('LayerNormalization', [x, scale, shift], { axis: attr.int(-1), epsilon: attr.float(eps) }, prefix);
}

/** Exact (erf) GELU in the pattern onnxruntime fuses into one Gelu kernel. */
export function gelu(net: DiffusionGraph, x: string): string {
  const erf = net.op('Erf', [net.op('Div', [x, net.floats([Math.SQRT2], [], 'sqrt2')])]);
  const one = net.op('Add', [erf, net.floats([1], [], 'one')]);
  return net.op('Mul', [net.op('Mul', [x, one]), net.floats([0.5], [], 'half')]);
}

/** [B, S, heads*d] -> [B, heads, S, d] (or [B, heads, d, S] with `keys`, ready for q @ k). */
function splitHeads(net: DiffusionGraph, x: string, heads: number, headDim: number, keys = false): string {
  const split = net.op('Reshape', [x, net.int64s([0, 0, heads, headDim])]);
  return net.op('Transpose', [split], { perm: attr.ints(keys ? [0, 2, 3, 1] : [0, 2, 1, 3]) });
}

export interface AttentionCore {
  heads: number;
  headDim: number;
  /** Softmax in float32 in fp16 graphs (diffusers' `upcast_softmax`, on in the VAE). */
  upcastSoftmax?: boolean;
  /** Scores and softmax in float32 in fp16 graphs (diffusers' `upcast_attention`, SD 2.1). */
  upcastAttention?: boolean;
}

/**
 * softmax(q k^T / sqrt(d)) v over [B, S, heads*d] projections; returns [B, S, heads*d]. The upcast
 * flags apply to the standard kernel; the fused one keeps its own accumulation (float32 on CPU, where
 * onnxruntime runs it in float32 for fp16 graphs too).
 */
export function scaledDotProductAttention(net: DiffusionGraph, q: string, k: string, v: string, core: AttentionCore, hint: string): string {
  const { heads, headDim } = core;
  if (net.attentionKernel === 'fused') {
    return net.contribOp('MultiHeadAttention', [q, k, v], { num_heads: attr.int(heads), scale: attr.float(1 / Math.sqrt(headDim)) }, hint);
  }
  const upcastScores = core.upcastAttention === true;
  const scale = 1 / Math.sqrt(headDim);
  let qh = splitHeads(net, q, heads, headDim);
  let kh = splitHeads(net, k, heads, headDim, true);
  if (upcastScores) {
    qh = net.toFloat32(qh);
    kh = net.toFloat32(kh);
  }
  const scaledQ = net.op('Mul', [qh, upcastScores ? net.floats32([scale], [], 'attn_scale') : net.floats([scale], [], 'attn_scale')]);
  let scores = net.op('MatMul', [scaledQ, kh], {}, `${hint}.scores`);
  const upcastSoftmax = !upcastScores && core.upcastSoftmax === true;
  if (upcastSoftmax) scores = net.toFloat32(scores);
  let probs = net.op('Softmax', [scores], { axis: attr.int(-1) }, `${hint}.probs`);
  if (upcastScores || upcastSoftmax) probs = net.fromFloat32(probs);
  const context = net.op('MatMul', [probs, splitHeads(net, v, heads, headDim)]);
  const merged = net.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) });
  return net.op('Reshape', [merged, net.int64s([0, 0, heads * headDim])], {}, hint);
}

export interface CrossAttentionShape {
  queryDim: number;
  /** The key/value source's width (`cross_attention_dim`); the query's for self-attention. */
  contextDim: number;
  heads: number;
  headDim: number;
  upcastAttention?: boolean;
}

/** diffusers' Attention `prefix` as BasicTransformerBlock uses it: bias-free to_q/k/v, to_out.0 with bias. */
export function attention(net: DiffusionGraph, x: string, context: string, prefix: string, shape: CrossAttentionShape): string {
  const inner = shape.heads * shape.headDim;
  const q = linear(net, x, `${prefix}.to_q`, shape.queryDim, inner, false);
  const k = linear(net, context, `${prefix}.to_k`, shape.contextDim, inner, false);
  const v = linear(net, context, `${prefix}.to_v`, shape.contextDim, inner, false);
  const attended = scaledDotProductAttention(net, q, k, v, { heads: shape.heads, headDim: shape.headDim, upcastAttention: shape.upcastAttention }, prefix);
  return linear(net, attended, `${prefix}.to_out.0`, inner, shape.queryDim);
}

/** FeedForward `prefix` with GEGLU: net.0.proj to 2 x inner, value * gelu(gate), net.2 back. */
export function feedForwardGeglu(net: DiffusionGraph, x: string, prefix: string, dim: number, inner: number): string {
  const projected = linear(net, x, `${prefix}.net.0.proj`, dim, inner * 2);
  const [value, gate] = net.g.node('Split', [projected, net.int64s([inner, inner])], { axis: attr.int(-1) }, 2);
  const gated = net.op('Mul', [value!, gelu(net, gate!)], {}, `${prefix}.net.0`);
  return linear(net, gated, `${prefix}.net.2`, inner, dim);
}

export interface TransformerShape {
  channels: number;
  heads: number;
  crossAttentionDim: number;
  layers: number;
  groups: number;
  useLinearProjection: boolean;
  upcastAttention: boolean;
}

/** BasicTransformerBlock `prefix` on tokens [B, S, dim]: self-attention, cross-attention, GEGLU, each pre-norm with a residual. */
export function basicTransformerBlock(net: DiffusionGraph, x: string, context: string, prefix: string, shape: TransformerShape): string {
  const dim = shape.channels;
  const headDim = dim / shape.heads;
  const eps = 1e-5;
  const common = { heads: shape.heads, headDim, upcastAttention: shape.upcastAttention };
  const normed1 = layerNorm(net, x, `${prefix}.norm1`, dim, eps);
  let h = net.op('Add', [attention(net, normed1, normed1, `${prefix}.attn1`, { queryDim: dim, contextDim: dim, ...common }), x]);
  const normed2 = layerNorm(net, h, `${prefix}.norm2`, dim, eps);
  h = net.op('Add', [attention(net, normed2, context, `${prefix}.attn2`, { queryDim: dim, contextDim: shape.crossAttentionDim, ...common }), h]);
  const normed3 = layerNorm(net, h, `${prefix}.norm3`, dim, eps);
  return net.op('Add', [feedForwardGeglu(net, normed3, `${prefix}.ff`, dim, dim * 4), h], {}, prefix);
}

/**
 * Transformer2DModel `prefix` (continuous input): GroupNorm (eps 1e-6, fixed in diffusers), proj_in
 * (1x1 conv, or a Linear with `use_linear_projection`), the transformer blocks over the H*W tokens,
 * proj_out, and the residual.
 */
export function transformer2D(net: DiffusionGraph, x: string, context: string, prefix: string, shape: TransformerShape): string {
  const C = shape.channels;
  const inputShape = net.op('Shape', [x]);
  const normed = groupNorm(net, x, `${prefix}.norm`, C, shape.groups, 1e-6);
  const toTokens = (v: string) => net.op('Transpose', [net.op('Reshape', [v, net.int64s([0, C, -1])])], { perm: attr.ints([0, 2, 1]) });
  let tokens = shape.useLinearProjection
    ? linear(net, toTokens(normed), `${prefix}.proj_in`, C, C)
    : toTokens(conv2d(net, normed, `${prefix}.proj_in`, { inChannels: C, outChannels: C, kernel: 1 }));
  for (let i = 0; i < shape.layers; i++) tokens = basicTransformerBlock(net, tokens, context, `${prefix}.transformer_blocks.${i}`, shape);
  const toImage = (v: string) => net.op('Reshape', [net.op('Transpose', [v], { perm: attr.ints([0, 2, 1]) }), inputShape]);
  const out = shape.useLinearProjection
    ? toImage(linear(net, tokens, `${prefix}.proj_out`, C, C))
    : conv2d(net, toImage(tokens), `${prefix}.proj_out`, { inChannels: C, outChannels: C, kernel: 1 });
  return net.op('Add', [out, x], {}, prefix);
}

export interface ResnetShape {
  inChannels: number;
  outChannels: number;
  groups: number;
  eps: number;
  /** The time embedding after its SiLU ([B, channels]); absent in the VAE. */
  temb?: { value: string; channels: number };
  /** diffusers' `output_scale_factor`: (shortcut + h) / factor. */
  outputScaleFactor?: number;
}

/** ResnetBlock2D `prefix` (pre-norm, "default" time embedding: added after conv1; 1x1 conv_shortcut when widths differ). */
export function resnetBlock2D(net: DiffusionGraph, x: string, prefix: string, shape: ResnetShape): string {
  const { inChannels, outChannels, groups, eps } = shape;
  let h = silu(net, groupNorm(net, x, `${prefix}.norm1`, inChannels, groups, eps));
  h = conv2d(net, h, `${prefix}.conv1`, { inChannels, outChannels, kernel: 3 });
  if (shape.temb) {
    const t = linear(net, shape.temb.value, `${prefix}.time_emb_proj`, shape.temb.channels, outChannels);
    h = net.op('Add', [h, net.op('Unsqueeze', [t, net.int64s([2, 3])])]);
  }
  h = silu(net, groupNorm(net, h, `${prefix}.norm2`, outChannels, groups, eps));
  h = conv2d(net, h, `${prefix}.conv2`, { inChannels: outChannels, outChannels, kernel: 3 });
  const shortcut = inChannels === outChannels ? x : conv2d(net, x, `${prefix}.conv_shortcut`, { inChannels, outChannels, kernel: 1 });
  const sum = net.op('Add', [shortcut, h], {}, prefix);
  const factor = shape.outputScaleFactor ?? 1;
  return factor === 1 ? sum : net.op('Div', [sum, net.floats([factor], [], 'output_scale')]);
}

/** Downsample2D `prefix` with a conv: stride 2; padding 0 means diffusers' (0, 1, 0, 1) zero pad on the bottom and right. */
export function downsample2D(net: DiffusionGraph, x: string, prefix: string, channels: number, padding: number): string {
  const pads: [number, number, number, number] = padding === 0 ? [0, 0, 1, 1] : [padding, padding, padding, padding];
  return conv2d(net, x, `${prefix}.conv`, { inChannels: channels, outChannels: channels, kernel: 3, stride: 2, pads });
}

/**
 * Upsample2D `prefix` with a conv: nearest-neighbour resize (PyTorch's legacy "nearest": asymmetric,
 * floor), to twice the size or to the size of `like` (the UNet's next skip connection, which handles
 * latent sizes that are not a multiple of the total downsampling), then a 3x3 conv.
 */
export function upsample2D(net: DiffusionGraph, x: string, prefix: string, channels: number, like?: string): string {
  const mode = { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') };
  let resized: string;
  if (like) {
    const batchAndChannels = net.op('Slice', [net.op('Shape', [x]), net.int64s([0]), net.int64s([2])]);
    const spatial = net.op('Slice', [net.op('Shape', [like]), net.int64s([2]), net.int64s([4])]);
    const sizes = net.op('Concat', [batchAndChannels, spatial], { axis: attr.int(0) });
    resized = net.g.node('Resize', [x, '', '', sizes], mode, 1)[0]!;
  } else {
    resized = net.g.node('Resize', [x, '', net.floats32([1, 1, 2, 2], [4], 'scales')], mode, 1)[0]!;
  }
  return conv2d(net, resized, `${prefix}.conv`, { inChannels: channels, outChannels: channels, kernel: 3 });
}

/**
 * diffusers' Timesteps: sinusoidal features of the timestep, computed in float32 (as diffusers does
 * before casting to the model's dtype). Frequencies follow get_timestep_embedding in float32:
 * exp(-ln(10000) * i / (half - shift)).
 */
export function timestepProjection(net: DiffusionGraph, timesteps32: string, dim: number, flipSinToCos: boolean, freqShift: number): string {
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  const logPeriod = f(-Math.log(10000));
  const freqs = Array.from({ length: half }, (_, i) => f(Math.exp(f(f(logPeriod * i) / f(half - freqShift)))));
  const angles = net.op('Mul', [net.op('Unsqueeze', [timesteps32, net.int64s([1])]), net.floats32(freqs, [1, half], 'time_freqs')]);
  const sin = net.op('Sin', [angles]);
  const cos = net.op('Cos', [angles]);
  const parts = flipSinToCos ? [cos, sin] : [sin, cos];
  if (dim % 2 === 1) parts.push(net.op('Mul', [net.op('Slice', [angles, net.int64s([0]), net.int64s([1]), net.int64s([1])]), net.floats32([0], [], 'zero')]));
  return net.op('Concat', parts, { axis: attr.int(1) }, 'time_proj');
}

/** TimestepEmbedding `prefix`: linear_1, SiLU, linear_2. */
export function timestepEmbedding(net: DiffusionGraph, x: string, prefix: string, inDim: number, outDim: number): string {
  return linear(net, silu(net, linear(net, x, `${prefix}.linear_1`, inDim, outDim)), `${prefix}.linear_2`, outDim, outDim);
}

/** Which names a checkpoint uses for the VAE mid-block attention. */
export type VaeAttentionKeys = 'current' | 'legacy';

const vaeAttentionNames: Record<VaeAttentionKeys, { q: string; k: string; v: string; out: string }> = {
  current: { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' },
  // diffusers before 0.14 (AttentionBlock); current diffusers renames these when loading.
  legacy: { q: 'query', k: 'key', v: 'value', out: 'proj_attn' },
};

/**
 * The VAE mid-block Attention `prefix`: GroupNorm, single-head attention over the H*W positions with
 * biased projections and a float32 softmax (`upcast_softmax`), output projection, residual.
 */
export function vaeAttention(net: DiffusionGraph, x: string, prefix: string, channels: number, groups: number, eps: number, keys: VaeAttentionKeys): string {
  const names = vaeAttentionNames[keys];
  const inputShape = net.op('Shape', [x]);
  const normed = groupNorm(net, x, `${prefix}.group_norm`, channels, groups, eps);
  const tokens = net.op('Transpose', [net.op('Reshape', [normed, net.int64s([0, channels, -1])])], { perm: attr.ints([0, 2, 1]) });
  const q = linear(net, tokens, `${prefix}.${names.q}`, channels, channels);
  const k = linear(net, tokens, `${prefix}.${names.k}`, channels, channels);
  const v = linear(net, tokens, `${prefix}.${names.v}`, channels, channels);
  const attended = scaledDotProductAttention(net, q, k, v, { heads: 1, headDim: channels, upcastSoftmax: true }, prefix);
  const projected = linear(net, attended, `${prefix}.${names.out}`, channels, channels);
  const image = net.op('Reshape', [net.op('Transpose', [projected], { perm: attr.ints([0, 2, 1]) }), inputShape]);
  return net.op('Add', [image, x], {}, prefix);
}
