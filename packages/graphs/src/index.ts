export { GraphBuilder, attr, DataType, float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array } from './graph.ts';
export type { ElementType, Dim, Precision } from './graph.ts';
export { SeededRandom } from './random.ts';
export { buildUnetGraph, parseUnetConfig, unetTensorRequests, type UnetSpec, type UnetGraphOptions } from './unet.ts';
export { buildVaeDecoderGraph, buildVaeEncoderGraph, parseVaeConfig, vaeTensorRequests, vaeAttentionKeysOf, type VaeSpec, type VaeGraphOptions, type VaeAttentionKeys } from './vae.ts';
export { DiffusionGraph, type TensorRequest } from './diffusion-graph.ts';
export { writeDiffusionGraph, type WriteOptions, type WrittenModel } from './diffusion-writer.ts';
