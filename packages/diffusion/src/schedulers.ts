// Denoising schedulers that reproduce Hugging Face diffusers' timesteps, sigmas and update rules:
// PNDMScheduler (PLMS, and the Runge-Kutta warm-up when skip_prk_steps is false), DDIMScheduler
// (eta 0), EulerDiscreteScheduler, EulerAncestralDiscreteScheduler and DPMSolverMultistepScheduler.
// Every config key each class reads is in scheduler-config.ts. Coefficients are computed in float64;
// tensors are Float32Array holding the whole latent batch, so one scheduler instance serves all
// images of a job. Checked against diffusers' own outputs (packages/reference/schedulers).
import { CuratorError } from '@curator/contracts';
import {
  resolveSchedulerConfig,
  type ResolvedSchedulerConfig,
  type SchedulerConfig,
  type SchedulerName,
} from './scheduler-config.ts';
import {
  alphasCumprod,
  arangeDown,
  exponentialSigmas,
  f32,
  interpolate,
  karrasSigmas,
  linspace,
  roundHalfEven,
  sigmaToTimestep,
  trainingSigmas,
} from './noise-schedule.ts';

export { schedulerNames, parseSchedulerConfig, resolveSchedulerConfig } from './scheduler-config.ts';
export type { SchedulerName, SchedulerConfig, ResolvedSchedulerConfig, ParseSchedulerOptions, PredictionType, TimestepSpacing, BetaSchedule } from './scheduler-config.ts';
export { alphasCumprod, trainingSigmas } from './noise-schedule.ts';

export interface StepOptions {
  /** Standard normal noise shaped like the sample; only schedulers with `needsNoise` read it. */
  noise?: Float32Array;
}

export interface SchedulerOptions {
  /** Elements per image in the sample (dynamic thresholding works per image); default: the whole sample is one image. */
  imageSize?: number;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The timestep fed to the UNet at each model evaluation. */
  readonly timesteps: readonly number[];
  /** Sigmas of the sigma-space schedulers (one more than timesteps, the final one last); null for PNDM and DDIM. */
  readonly sigmas: readonly number[] | null;
  /** Multiplier of the initial Gaussian latents. */
  readonly initNoiseSigma: number;
  readonly needsNoise: boolean;
  /** Denoising steps (what the caller asked for); PNDM makes more model evaluations than steps. */
  readonly steps: number;
  /** Denoising steps complete after model evaluation `index`. */
  stepsDone(index: number): number;
  /** Scales the UNet input at evaluation `index` into `out` (Euler schedulers divide by sqrt(sigma^2+1)). */
  scaleModelInput(sample: Float32Array, index: number, out: Float32Array): Float32Array;
  /** Advances `sample` in place by the model output of evaluation `index` (evaluations run in order 0..n-1). */
  step(modelOutput: Float32Array, index: number, sample: Float32Array, options?: StepOptions): Float32Array;
}

function checkSteps(steps: number, config: ResolvedSchedulerConfig, min = 1): void {
  if (!Number.isInteger(steps) || steps < min || steps > config.numTrainTimesteps) {
    throw new CuratorError('bad_input', `steps must be an integer from ${min} to ${config.numTrainTimesteps} for this scheduler`, { details: [{ path: 'steps', message: `got ${steps}` }] });
  }
}

/** The inference timesteps of PNDM, DDIM and the Euler schedulers, descending (before rounding). */
function spacedTimesteps(config: ResolvedSchedulerConfig, steps: number): number[] {
  const n = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace':
      return linspace(0, n - 1, steps).reverse();
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + config.stepsOffset).reverse();
    }
    case 'trailing':
      return arangeDown(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

function copyInto(sample: Float32Array, out: Float32Array): Float32Array {
  if (out !== sample) out.set(sample);
  return out;
}

/**
 * Imagen's dynamic thresholding of a predicted x0, per image: s = the `ratio` quantile of |x0|
 * (torch.quantile's linear interpolation), clamped to [1, maxValue]; x0 = clamp(x0, -s, s) / s.
 */
export function thresholdSample(x0: Float32Array, imageSize: number, ratio: number, maxValue: number): void {
  const sorted = new Float32Array(imageSize);
  for (let start = 0; start < x0.length; start += imageSize) {
    const image = x0.subarray(start, start + imageSize);
    for (let i = 0; i < image.length; i++) sorted[i] = Math.abs(image[i]!);
    sorted.subarray(0, image.length).sort();
    const position = ratio * (image.length - 1);
    const below = Math.floor(position);
    const above = Math.min(below + 1, image.length - 1);
    const quantile = sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
    // torch.clamp(s, min=1, max=maxValue): the max wins when they cross.
    const s = Math.min(Math.max(quantile, 1), maxValue);
    for (let i = 0; i < image.length; i++) image[i] = Math.min(Math.max(image[i]!, -s), s) / s;
  }
}

/** DDIM and PNDM share the "previous sample" algebra over alphas_cumprod. */
abstract class AlphaScheduler {
  protected readonly config: ResolvedSchedulerConfig;
  protected readonly alphas: Float64Array;
  protected readonly finalAlphaCumprod: number;
  readonly sigmas = null;
  readonly initNoiseSigma = 1;
  readonly needsNoise = false;
  readonly steps: number;

  constructor(config: ResolvedSchedulerConfig, steps: number) {
    this.config = config;
    this.steps = steps;
    this.alphas = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphas[0]!;
  }

  protected alphaAt(t: number): number {
    return t >= 0 ? this.alphas[t]! : this.finalAlphaCumprod;
  }

  scaleModelInput(sample: Float32Array, _index: number, out: Float32Array): Float32Array {
    return copyInto(sample, out);
  }
}

/** PNDM's order-4 pseudo Runge-Kutta warm-up (12 evaluations for the first 3 steps) is skipped with skip_prk_steps. */
const prkEvaluations = 12;

export class PndmScheduler extends AlphaScheduler implements Scheduler {
  readonly name = 'pndm' as const;
  readonly timesteps: readonly number[];
  private readonly prkTimesteps: readonly number[];
  private readonly stepRatio: number;
  private ets: Float32Array[] = [];
  private currentSample: Float32Array | null = null;
  private rungeKuttaSum: Float32Array | null = null;
  private counter = 0;

  constructor(config: ResolvedSchedulerConfig, steps: number) {
    super(config, steps);
    checkSteps(steps, config, config.skipPrkSteps ? 1 : 4);
    const n = config.numTrainTimesteps;
    this.stepRatio = Math.floor(n / steps);
    const base = spacedTimesteps(config, steps).map(roundHalfEven).reverse();
    if (config.skipPrkSteps) {
      // The second-to-last timestep repeats: the first PLMS step needs two evaluations.
      this.prkTimesteps = [];
      this.timesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      // The last four (highest) timesteps, each followed by its half step, as diffusers builds them.
      const half = Math.floor(this.stepRatio / 2);
      const pairs = base.slice(-4).flatMap((t) => [t, t + half]);
      const doubled = pairs.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = doubled.slice(1, -1).reverse();
      this.timesteps = [...this.prkTimesteps, ...base.slice(0, -3).reverse()];
    }
  }

  stepsDone(index: number): number {
    // With more than one step, the first PLMS step takes two evaluations.
    if (this.config.skipPrkSteps) return this.timesteps.length > this.steps ? index : index + 1;
    return index < prkEvaluations ? Math.floor((index + 1) / 4) : 3 + index - (prkEvaluations - 1);
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    if (this.counter < this.prkTimesteps.length) this.stepRungeKutta(modelOutput, this.timesteps[index]!, sample);
    else this.stepLinearMultistep(modelOutput, this.timesteps[index]!, sample);
    this.counter++;
    return sample;
  }

  private stepRungeKutta(modelOutput: Float32Array, timestep: number, sample: Float32Array): void {
    const diffToPrevious = this.counter % 2 ? 0 : Math.floor(this.stepRatio / 2);
    const prevTimestep = timestep - diffToPrevious;
    const anchor = this.prkTimesteps[Math.floor(this.counter / 4) * 4]!;
    const size = sample.length;
    this.rungeKuttaSum ??= new Float32Array(size);
    const sum = this.rungeKuttaSum;
    let output = modelOutput;
    switch (this.counter % 4) {
      case 0:
        for (let i = 0; i < size; i++) sum[i] = sum[i]! + modelOutput[i]! / 6;
        this.ets.push(Float32Array.from(modelOutput));
        this.currentSample = Float32Array.from(sample);
        break;
      case 1:
      case 2:
        for (let i = 0; i < size; i++) sum[i] = sum[i]! + modelOutput[i]! / 3;
        break;
      case 3:
        output = new Float32Array(size);
        for (let i = 0; i < size; i++) output[i] = sum[i]! + modelOutput[i]! / 6;
        sum.fill(0);
        break;
    }
    this.previousSample(this.currentSample ?? sample, anchor, prevTimestep, output, sample);
  }

  private stepLinearMultistep(modelOutput: Float32Array, timestepIn: number, sample: Float32Array): void {
    let timestep = timestepIn;
    let prevTimestep = timestep - this.stepRatio;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(Float32Array.from(modelOutput));
    } else {
      prevTimestep = timestep;
      timestep += this.stepRatio;
    }
    const ets = this.ets;
    const size = sample.length;
    const combined = new Float32Array(size);
    let source = sample;
    if (ets.length === 1 && this.counter === 0) {
      combined.set(modelOutput);
      this.currentSample = Float32Array.from(sample);
    } else if (ets.length === 1 && this.counter === 1) {
      const e = ets[0]!;
      for (let i = 0; i < size; i++) combined[i] = (modelOutput[i]! + e[i]!) / 2;
      source = this.currentSample!;
      this.currentSample = null;
    } else if (ets.length === 2) {
      const [e2, e1] = [ets[0]!, ets[1]!];
      for (let i = 0; i < size; i++) combined[i] = (3 * e1[i]! - e2[i]!) / 2;
    } else if (ets.length === 3) {
      const [e3, e2, e1] = [ets[0]!, ets[1]!, ets[2]!];
      for (let i = 0; i < size; i++) combined[i] = (23 * e1[i]! - 16 * e2[i]! + 5 * e3[i]!) / 12;
    } else {
      const [e4, e3, e2, e1] = [ets[0]!, ets[1]!, ets[2]!, ets[3]!];
      for (let i = 0; i < size; i++) combined[i] = (55 * e1[i]! - 59 * e2[i]! + 37 * e3[i]! - 9 * e4[i]!) / 24;
    }
    this.previousSample(source, timestep, prevTimestep, combined, sample);
  }

  /** Formula (9) of the PNDM paper. */
  private previousSample(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array, out: Float32Array): void {
    const alphaT = this.alphaAt(timestep);
    const alphaPrev = this.alphaAt(prevTimestep);
    const betaT = 1 - alphaT;
    const betaPrev = 1 - alphaPrev;
    const v = this.config.predictionType === 'v_prediction';
    const sampleCoeff = Math.sqrt(alphaPrev / alphaT);
    const denominator = alphaT * Math.sqrt(betaPrev) + Math.sqrt(alphaT * betaT * alphaPrev);
    const outputCoeff = (alphaPrev - alphaT) / denominator;
    const [sa, sb] = [Math.sqrt(alphaT), Math.sqrt(betaT)];
    for (let i = 0; i < out.length; i++) {
      const x = sample[i]!;
      const eps = v ? sa * modelOutput[i]! + sb * x : modelOutput[i]!;
      out[i] = sampleCoeff * x - outputCoeff * eps;
    }
  }
}

export class DdimScheduler extends AlphaScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly timesteps: readonly number[];
  private readonly stepRatio: number;
  private readonly imageSize: number | undefined;
  private original: Float32Array | null = null;

  constructor(config: ResolvedSchedulerConfig, steps: number, options: SchedulerOptions = {}) {
    super(config, steps);
    checkSteps(steps, config);
    this.timesteps = spacedTimesteps(config, steps).map(roundHalfEven);
    this.stepRatio = Math.floor(config.numTrainTimesteps / steps);
    this.imageSize = options.imageSize;
  }

  stepsDone(index: number): number {
    return index + 1;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    const timestep = this.timesteps[index]!;
    const alphaT = this.alphaAt(timestep);
    // diffusers steps back by num_train_timesteps // steps whatever the spacing.
    const alphaPrev = this.alphaAt(timestep - this.stepRatio);
    const [sa, sb] = [Math.sqrt(alphaT), Math.sqrt(1 - alphaT)];
    const [pa, pb] = [Math.sqrt(alphaPrev), Math.sqrt(1 - alphaPrev)];
    const { predictionType, thresholding, clipSample, clipSampleRange } = this.config;
    const size = sample.length;
    if (this.original?.length !== size) this.original = new Float32Array(size);
    const original = this.original;
    for (let i = 0; i < size; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      original[i] = predictionType === 'epsilon' ? (x - sb * m) / sa : predictionType === 'sample' ? m : sa * x - sb * m;
    }
    // The noise estimate comes from the unclipped prediction (use_clipped_model_output is false in the pipelines).
    const epsilonOf = (i: number): number => {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      return predictionType === 'epsilon' ? m : predictionType === 'sample' ? (x - sa * m) / sb : sa * m + sb * x;
    };
    const epsilon = new Float32Array(size);
    for (let i = 0; i < size; i++) epsilon[i] = epsilonOf(i);
    if (thresholding) thresholdSample(original, this.imageSize ?? size, this.config.dynamicThresholdingRatio, this.config.sampleMaxValue);
    else if (clipSample) for (let i = 0; i < size; i++) original[i] = Math.min(Math.max(original[i]!, -clipSampleRange), clipSampleRange);
    for (let i = 0; i < size; i++) sample[i] = pa * original[i]! + pb * epsilon[i]!;
    return sample;
  }
}

/** Training sigmas as diffusers keeps them: zero terminal SNR sets the last alpha_cumprod to 2^-24 so the first sigma is finite. */
function sigmaSchedule(config: ResolvedSchedulerConfig): { alphas: Float64Array; sigmas: Float64Array; logSigmas: Float64Array } {
  const alphas = alphasCumprod(config);
  if (config.rescaleBetasZeroSnr) alphas[alphas.length - 1] = 2 ** -24;
  const sigmas = trainingSigmas(alphas);
  return { alphas, sigmas, logSigmas: sigmas.map(Math.log) };
}

/** Shared by Euler and Euler ancestral: sigma-space sampling with a scaled model input. */
abstract class SigmaScheduler {
  protected readonly config: ResolvedSchedulerConfig;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly steps: number;

  constructor(config: ResolvedSchedulerConfig, steps: number, schedule: { timesteps: number[]; sigmas: number[] }) {
    this.config = config;
    this.steps = steps;
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    const max = Math.max(...this.sigmas);
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  stepsDone(index: number): number {
    return index + 1;
  }

  scaleModelInput(sample: Float32Array, index: number, out: Float32Array): Float32Array {
    const sigma = this.sigmas[index]!;
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i]! * scale;
    return out;
  }

  /** The denoised estimate's coefficients: original = a * sample + b * modelOutput. */
  protected originalCoefficients(sigma: number): [number, number] {
    switch (this.config.predictionType) {
      case 'v_prediction':
        return [1 / (sigma * sigma + 1), -sigma / Math.sqrt(sigma * sigma + 1)];
      case 'sample':
        return [0, 1];
      default:
        return [1, -sigma];
    }
  }
}

/** EulerDiscreteScheduler.set_timesteps: float timesteps (float32) and their sigmas. */
function eulerSchedule(config: ResolvedSchedulerConfig, steps: number): { timesteps: number[]; sigmas: number[] } {
  const train = sigmaSchedule(config);
  let timesteps = spacedTimesteps(config, steps).map((t) => f32(config.timestepSpacing === 'linspace' ? t : roundHalfEven(t)));
  let sigmas =
    config.interpolationType === 'log_linear'
      ? linspace(Math.log(train.sigmas.at(-1)!), Math.log(train.sigmas[0]!), steps + 1).map((v) => Math.exp(f32(v)))
      : timesteps.map((t) => interpolate(t, train.sigmas));
  if (config.sigmaSpacing === 'karras' || config.sigmaSpacing === 'exponential') {
    const sigmaMin = config.sigmaMin ?? sigmas.at(-1)!;
    const sigmaMax = config.sigmaMax ?? sigmas[0]!;
    sigmas = config.sigmaSpacing === 'karras' ? karrasSigmas(sigmaMin, sigmaMax, steps) : exponentialSigmas(sigmaMin, sigmaMax, steps);
    timesteps = sigmas.map((s) => f32(sigmaToTimestep(s, train.logSigmas)));
  }
  const last = config.finalSigmasType === 'sigma_min' ? train.sigmas[0]! : 0;
  const allSigmas = [...sigmas, last].map(f32);
  if (config.timestepType === 'continuous' && config.predictionType === 'v_prediction') {
    timesteps = allSigmas.slice(0, -1).map((s) => f32(0.25 * Math.log(s)));
  }
  return { timesteps, sigmas: allSigmas };
}

export class EulerScheduler extends SigmaScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly needsNoise = false;

  constructor(config: ResolvedSchedulerConfig, steps: number) {
    checkSteps(steps, config);
    super(config, steps, eulerSchedule(config, steps));
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    const sigma = this.sigmas[index]!;
    const dt = this.sigmas[index + 1]! - sigma;
    const [a, b] = this.originalCoefficients(sigma);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const original = a * x + b * modelOutput[i]!;
      sample[i] = x + ((x - original) / sigma) * dt;
    }
    return sample;
  }
}

export class EulerAncestralScheduler extends SigmaScheduler implements Scheduler {
  readonly name = 'euler-ancestral' as const;
  readonly needsNoise = true;

  constructor(config: ResolvedSchedulerConfig, steps: number) {
    checkSteps(steps, config);
    const train = sigmaSchedule(config);
    const timesteps = spacedTimesteps(config, steps).map((t) => f32(config.timestepSpacing === 'linspace' ? t : roundHalfEven(t)));
    super(config, steps, { timesteps, sigmas: [...timesteps.map((t) => interpolate(t, train.sigmas)), 0].map(f32) });
  }

  /** sigma_up and sigma_down of the ancestral step from `from` to `to`. */
  static ancestralSigmas(from: number, to: number): { up: number; down: number } {
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    return { up, down: Math.sqrt(to * to - up * up) };
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, options: StepOptions = {}): Float32Array {
    const sigma = this.sigmas[index]!;
    const { up, down } = EulerAncestralScheduler.ancestralSigmas(sigma, this.sigmas[index + 1]!);
    const noise = options.noise;
    if (up > 0 && (!noise || noise.length !== sample.length)) throw new CuratorError('internal_error', 'Euler ancestral needs noise shaped like the sample');
    const dt = down - sigma;
    const [a, b] = this.originalCoefficients(sigma);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const original = a * x + b * modelOutput[i]!;
      sample[i] = x + ((x - original) / sigma) * dt + (up > 0 ? noise![i]! * up : 0);
    }
    return sample;
  }
}

/** DPMSolverMultistepScheduler.set_timesteps: integer timesteps and their sigmas. */
function dpmSchedule(config: ResolvedSchedulerConfig, steps: number): { timesteps: number[]; sigmas: number[] } {
  const n = config.numTrainTimesteps;
  const train = sigmaSchedule(config);
  // lambda_min_clipped cuts the schedule short where log(alpha_t / sigma_t) falls below it.
  const lambdas = train.alphas.map((a) => Math.log(Math.sqrt(a)) - Math.log(Math.sqrt(1 - a)));
  let clipped = 0;
  while (clipped < n && lambdas[n - 1 - clipped]! < config.lambdaMinClipped) clipped++;
  const last = n - clipped;
  let timesteps: number[];
  switch (config.timestepSpacing) {
    case 'linspace':
      timesteps = linspace(0, last - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
      break;
    case 'leading': {
      const ratio = Math.floor(last / (steps + 1));
      timesteps = Array.from({ length: steps + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + config.stepsOffset);
      break;
    }
    case 'trailing':
      timesteps = arangeDown(last, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
      break;
  }
  const descending = [...train.sigmas].reverse();
  const toTimestep = (s: number) => sigmaToTimestep(s, train.logSigmas);
  // Timesteps from sigmas round for karras and lu (except the cosine schedule) and truncate for exponential, as int64 storage does.
  const settle = (t: number) => (config.betaSchedule === 'squaredcos_cap_v2' ? Math.trunc(t) : roundHalfEven(t));
  let sigmas: number[];
  switch (config.sigmaSpacing) {
    case 'karras':
      sigmas = karrasSigmas(config.sigmaMin ?? descending.at(-1)!, config.sigmaMax ?? descending[0]!, steps);
      timesteps = sigmas.map((s) => settle(toTimestep(s)));
      break;
    case 'lu': {
      const [lambdaMax, lambdaMin] = [Math.log(descending[0]!), Math.log(descending.at(-1)!)];
      sigmas = linspace(0, 1, steps).map((ramp) => Math.exp(lambdaMax + ramp * (lambdaMin - lambdaMax)));
      timesteps = sigmas.map((s) => settle(toTimestep(s)));
      break;
    }
    case 'exponential':
      sigmas = exponentialSigmas(config.sigmaMin ?? descending.at(-1)!, config.sigmaMax ?? descending[0]!, steps);
      timesteps = sigmas.map((s) => Math.trunc(toTimestep(s)));
      break;
    default:
      sigmas = timesteps.map((t) => interpolate(t, train.sigmas));
  }
  const final = config.finalSigmasType === 'sigma_min' ? train.sigmas[0]! : 0;
  return { timesteps, sigmas: [...sigmas, final].map(f32) };
}

/** alpha_t, sigma_t and lambda_t = log(alpha_t / sigma_t) of a sigma. */
function dpmTerms(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const s = sigma * alpha;
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

/**
 * DPM-Solver++ (data prediction) of order 1, 2 or 3, midpoint or Heun, ODE or SDE
 * ("sde-dpmsolver++", which needs noise every step).
 */
export class DpmSolverPlusPlusScheduler implements Scheduler {
  readonly name = 'dpm-solver++' as const;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly needsNoise: boolean;
  readonly steps: number;
  private readonly config: ResolvedSchedulerConfig;
  private readonly imageSize: number | undefined;
  /** The data predictions of the latest evaluations, newest last (at most solver_order). */
  private readonly outputs: Float32Array[] = [];
  private lowerOrderNums = 0;

  constructor(config: ResolvedSchedulerConfig, steps: number, options: SchedulerOptions = {}) {
    checkSteps(steps, config);
    this.config = config;
    this.steps = steps;
    this.imageSize = options.imageSize;
    const schedule = dpmSchedule(config, steps);
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.needsNoise = config.algorithmType === 'sde-dpmsolver++';
  }

  stepsDone(index: number): number {
    return index + 1;
  }

  scaleModelInput(sample: Float32Array, _index: number, out: Float32Array): Float32Array {
    return copyInto(sample, out);
  }

  /** The model output as a prediction of x0 (convert_model_output). */
  private dataPrediction(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    const { alpha, sigma } = dpmTerms(this.sigmas[index]!);
    const size = sample.length;
    // The oldest prediction leaves the history; its buffer takes the new one.
    const recycled = this.outputs.length === this.config.solverOrder ? this.outputs.shift() : undefined;
    const out = recycled?.length === size ? recycled : new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      out[i] = this.config.predictionType === 'epsilon' ? (x - sigma * m) / alpha : this.config.predictionType === 'sample' ? m : alpha * x - sigma * m;
    }
    if (this.config.thresholding) thresholdSample(out, this.imageSize ?? size, this.config.dynamicThresholdingRatio, this.config.sampleMaxValue);
    this.outputs.push(out);
    return out;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, options: StepOptions = {}): Float32Array {
    const { solverOrder, lowerOrderFinal, eulerAtFinal, finalSigmasType } = this.config;
    const count = this.timesteps.length;
    const short = lowerOrderFinal && count < 15;
    const finalFirstOrder = index === count - 1 && (eulerAtFinal || short || finalSigmasType === 'zero');
    const finalSecondOrder = index === count - 2 && short;
    this.dataPrediction(modelOutput, index, sample);
    const noise = this.needsNoise ? options.noise : undefined;
    if (this.needsNoise && (!noise || noise.length !== sample.length)) throw new CuratorError('internal_error', 'SDE DPM-Solver++ needs noise shaped like the sample');
    let order: 1 | 2 | 3;
    if (solverOrder === 1 || this.lowerOrderNums < 1 || finalFirstOrder) order = 1;
    else if (solverOrder === 2 || this.lowerOrderNums < 2 || finalSecondOrder) order = 2;
    else order = 3;
    this.update(order, index, sample, noise);
    if (this.lowerOrderNums < solverOrder) this.lowerOrderNums++;
    return sample;
  }

  private update(order: 1 | 2 | 3, index: number, sample: Float32Array, noise: Float32Array | undefined): void {
    const t = dpmTerms(this.sigmas[index + 1]!);
    const s0 = dpmTerms(this.sigmas[index]!);
    const h = t.lambda - s0.lambda;
    const sde = this.config.algorithmType === 'sde-dpmsolver++';
    const outputs = this.outputs;
    const m0 = outputs.at(-1)!;
    // x_t = sampleCoeff * x + c0 * D0 + c1 * D1 + c2 * D2 (+ noiseCoeff * noise)
    const sampleCoeff = sde ? (t.sigma / s0.sigma) * Math.exp(-h) : t.sigma / s0.sigma;
    const noiseCoeff = sde ? t.sigma * Math.sqrt(1 - Math.exp(-2 * h)) : 0;
    const c0 = sde ? t.alpha * (1 - Math.exp(-2 * h)) : -t.alpha * (Math.exp(-h) - 1);
    let c1 = 0;
    let c2 = 0;
    let d1 = (_i: number) => 0;
    let d2 = (_i: number) => 0;
    if (order >= 2) {
      const s1 = dpmTerms(this.sigmas[index - 1]!);
      const m1 = outputs.at(-2)!;
      const r0 = (s0.lambda - s1.lambda) / h;
      if (order === 2) {
        d1 = (i) => (m0[i]! - m1[i]!) / r0;
        const heun = this.config.solverType === 'heun';
        if (sde) c1 = heun ? t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1) : 0.5 * t.alpha * (1 - Math.exp(-2 * h));
        else c1 = heun ? t.alpha * ((Math.exp(-h) - 1) / h + 1) : -0.5 * t.alpha * (Math.exp(-h) - 1);
      } else {
        const s2 = dpmTerms(this.sigmas[index - 2]!);
        const m2 = outputs.at(-3)!;
        const r1 = (s1.lambda - s2.lambda) / h;
        const d10 = (i: number) => (m0[i]! - m1[i]!) / r0;
        const d11 = (i: number) => (m1[i]! - m2[i]!) / r1;
        d1 = (i) => d10(i) + (r0 / (r0 + r1)) * (d10(i) - d11(i));
        d2 = (i) => (d10(i) - d11(i)) / (r0 + r1);
        if (sde) {
          c1 = t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1);
          c2 = t.alpha * ((1 - Math.exp(-2 * h) - 2 * h) / (2 * h) ** 2 - 0.5);
        } else {
          c1 = t.alpha * ((Math.exp(-h) - 1) / h + 1);
          c2 = -t.alpha * ((Math.exp(-h) - 1 + h) / h ** 2 - 0.5);
        }
      }
    }
    for (let i = 0; i < sample.length; i++) {
      let x = sampleCoeff * sample[i]! + c0 * m0[i]!;
      if (order >= 2) x += c1 * d1(i);
      if (order === 3) x += c2 * d2(i);
      if (noise) x += noiseCoeff * noise[i]!;
      sample[i] = x;
    }
  }
}

/** A scheduler for `steps` denoising steps, configured as diffusers configures `name` from the model's file. */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number, options: SchedulerOptions = {}): Scheduler {
  const resolved = resolveSchedulerConfig(name, config);
  switch (name) {
    case 'pndm':
      return new PndmScheduler(resolved, steps);
    case 'ddim':
      return new DdimScheduler(resolved, steps, options);
    case 'euler':
      return new EulerScheduler(resolved, steps);
    case 'euler-ancestral':
      return new EulerAncestralScheduler(resolved, steps);
    case 'dpm-solver++':
      return new DpmSolverPlusPlusScheduler(resolved, steps, options);
    default:
      throw new CuratorError('bad_input', `Unknown scheduler "${String(name)}"`);
  }
}
