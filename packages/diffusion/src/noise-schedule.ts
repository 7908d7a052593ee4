// The training noise schedule (betas -> alphas_cumprod -> sigmas) and the numpy operations
// diffusers builds inference timesteps and sigmas from. Computed in float64; diffusers computes
// betas and alphas_cumprod in float32, which moves the smallest sigmas by about 1e-5 (relative).
import type { ResolvedSchedulerConfig } from './scheduler-config.ts';

/** numpy.linspace */
export function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : start + step * i));
}

/** numpy.round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.arange(start, stop, step) for a negative step. */
export function arangeDown(start: number, stop: number, step: number): number[] {
  const count = Math.ceil((stop - start) / step);
  return Array.from({ length: Math.max(0, count) }, (_, i) => start + i * step);
}

/** numpy.interp at x over the integer grid 0..values.length-1. */
export function interpolate(x: number, values: ArrayLike<number>): number {
  if (x <= 0) return values[0]!;
  if (x >= values.length - 1) return values[values.length - 1]!;
  const i = Math.floor(x);
  const f = x - i;
  return values[i]! * (1 - f) + values[i + 1]! * f;
}

/** diffusers' betas_for_alpha_bar with the cosine ("squaredcos_cap_v2") alpha bar and max_beta 0.999. */
function cosineBetas(n: number): number[] {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  return Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
}

/** Rescales betas to zero terminal SNR (Lin et al. 2023, algorithm 1), as diffusers does. */
function rescaleZeroTerminalSnr(betas: number[]): number[] {
  const sqrtCumprod: number[] = [];
  let product = 1;
  for (const beta of betas) {
    product *= 1 - beta;
    sqrtCumprod.push(Math.sqrt(product));
  }
  const first = sqrtCumprod[0]!;
  const last = sqrtCumprod.at(-1)!;
  const scaled = sqrtCumprod.map((v) => ((v - last) * first) / (first - last));
  const cumprod = scaled.map((v) => v * v);
  return cumprod.map((v, i) => 1 - (i === 0 ? v : v / cumprod[i - 1]!));
}

export function betas(config: Pick<ResolvedSchedulerConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'betaSchedule' | 'trainedBetas' | 'rescaleBetasZeroSnr'>): number[] {
  const n = config.numTrainTimesteps;
  let values: number[];
  if (config.trainedBetas) values = [...config.trainedBetas];
  else if (config.betaSchedule === 'linear') values = linspace(config.betaStart, config.betaEnd, n);
  else if (config.betaSchedule === 'scaled_linear') values = linspace(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), n).map((x) => x * x);
  else values = cosineBetas(n);
  return config.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(values) : values;
}

/** Cumulative products of (1 - beta) over the training timesteps. */
export function alphasCumprod(config: Parameters<typeof betas>[0]): Float64Array {
  const values = betas(config);
  const out = new Float64Array(values.length);
  let product = 1;
  values.forEach((beta, i) => {
    product *= 1 - beta;
    out[i] = product;
  });
  return out;
}

/** Noise levels sigma = sqrt((1 - alpha_cumprod) / alpha_cumprod) of every training timestep. */
export function trainingSigmas(alphas: Float64Array): Float64Array {
  return alphas.map((a) => Math.sqrt((1 - a) / a));
}

/** diffusers' _sigma_to_t: the fractional training timestep of a sigma, by interpolating log sigmas. */
export function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last index whose log sigma is <= logSigma (0 when none is), kept below the final one.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigmas[i]! <= logSigma) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const w = Math.min(1, Math.max(0, (logSigmas[low]! - logSigma) / (logSigmas[low]! - logSigmas[low + 1]!)));
  return (1 - w) * low + w * (low + 1);
}

/** Karras et al. (2022) sigmas, rho 7, from sigmaMax down to sigmaMin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, count: number): number[] {
  const rho = 7;
  const [minInv, maxInv] = [sigmaMin ** (1 / rho), sigmaMax ** (1 / rho)];
  return linspace(0, 1, count).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
}

/** Sigmas evenly spaced in log space from sigmaMax down to sigmaMin. */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, count: number): number[] {
  return linspace(Math.log(sigmaMax), Math.log(sigmaMin), count).map(Math.exp);
}

/** float32 rounding, for values diffusers keeps in float32 tensors. */
export const f32 = Math.fround;
