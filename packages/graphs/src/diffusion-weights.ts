// Seeded random weights for Stable Diffusion graphs (test models, benchmarks).
import { isNormWeight, randomWeights, type WeightSource } from './weights.ts';

/**
 * Convolution and linear weights at 1/sqrt(fan_in) instead of transformers' 0.02: under 0.02 a deep
 * random UNet's activations shrink block by block until its output hardly depends on its input (or
 * turn denormal and slow). Norm scales near 1 and biases near 0 as `randomWeights` makes them.
 */
export function diffusionRandomWeights(seed: number): WeightSource {
  return randomWeights(seed, {
    init: (name, shape) => (shape.length >= 2 && !isNormWeight(name) ? { std: 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1)) } : undefined),
  });
}
