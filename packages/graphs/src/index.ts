export { GraphBuilder, attr, DataType, float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array } from './graph.ts';
export type { ElementType, Dim, Precision } from './graph.ts';
export { SeededRandom } from './random.ts';
