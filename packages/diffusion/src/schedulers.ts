// Denoising schedulers that reproduce Hugging Face diffusers' timesteps and update rules
// (PNDMScheduler with skip_prk_steps, DDIMScheduler with eta 0, EulerDiscreteScheduler,
// EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler as 2nd-order DPM-Solver++).
// Coefficients are computed in float64; tensors are Float32Array holding the whole latent batch,
// so every update is elementwise and one scheduler instance serves all images of a job.
import { CuratorError } from '@curator/contracts';

export const schedulerNames = ['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm-solver++'] as const;
export type SchedulerName = (typeof schedulerNames)[number];

export type BetaSchedule = 'linear' | 'scaled_linear';
export type PredictionType = 'epsilon' | 'v_prediction';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

export interface SchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  stepsOffset: number;
  setAlphaToOne: boolean;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  /** The scheduler the model ships with (from `_class_name`). */
  defaultScheduler: SchedulerName;
}

const classNames: Record<string, SchedulerName> = {
  PNDMScheduler: 'pndm',
  DDIMScheduler: 'ddim',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-ancestral',
  DPMSolverMultistepScheduler: 'dpm-solver++',
};

/**
 * Reads a diffusers `scheduler_config.json`. A missing `timestep_spacing` takes the default of the
 * config's own class ("leading" for PNDM/DDIM, "linspace" for Euler/DPM): diffusers records that
 * default in the config, so swapping schedulers with `from_config` carries it over.
 */
export function parseSchedulerConfig(json: Record<string, unknown>): SchedulerConfig {
  const className = typeof json._class_name === 'string' ? json._class_name : 'PNDMScheduler';
  const defaultScheduler = classNames[className] ?? 'pndm';
  const num = (key: string, fallback: number) => (typeof json[key] === 'number' ? (json[key] as number) : fallback);
  const betaSchedule = (json.beta_schedule ?? 'linear') as string;
  if (betaSchedule !== 'linear' && betaSchedule !== 'scaled_linear') {
    throw new CuratorError('model_load_failed', `Unsupported beta_schedule "${betaSchedule}"`);
  }
  const predictionType = (json.prediction_type ?? 'epsilon') as string;
  if (predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
    throw new CuratorError('model_load_failed', `Unsupported prediction_type "${predictionType}"`);
  }
  const spacingDefault: TimestepSpacing = defaultScheduler === 'pndm' || defaultScheduler === 'ddim' ? 'leading' : 'linspace';
  const timestepSpacing = (json.timestep_spacing ?? spacingDefault) as string;
  if (timestepSpacing !== 'leading' && timestepSpacing !== 'trailing' && timestepSpacing !== 'linspace') {
    throw new CuratorError('model_load_failed', `Unsupported timestep_spacing "${timestepSpacing}"`);
  }
  return {
    numTrainTimesteps: num('num_train_timesteps', 1000),
    betaStart: num('beta_start', 0.0001),
    betaEnd: num('beta_end', 0.02),
    betaSchedule,
    stepsOffset: num('steps_offset', 0),
    setAlphaToOne: json.set_alpha_to_one === undefined ? true : Boolean(json.set_alpha_to_one),
    predictionType,
    timestepSpacing,
    defaultScheduler,
  };
}

/** Cumulative products of (1 - beta) over the training timesteps. */
export function alphasCumprod(config: Pick<SchedulerConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'betaSchedule'>): Float64Array {
  const n = config.numTrainTimesteps;
  const out = new Float64Array(n);
  const [from, to] = config.betaSchedule === 'scaled_linear' ? [Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd)] : [config.betaStart, config.betaEnd];
  let product = 1;
  for (let i = 0; i < n; i++) {
    const x = n === 1 ? from : from + ((to - from) * i) / (n - 1);
    const beta = config.betaSchedule === 'scaled_linear' ? x * x : x;
    product *= 1 - beta;
    out[i] = product;
  }
  return out;
}

/** numpy.linspace */
function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  return Array.from({ length: count }, (_, i) => start + ((stop - start) * i) / (count - 1));
}

/** numpy.round: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.arange(start, stop, step) for a negative step. */
function arangeDown(start: number, stop: number, step: number): number[] {
  const count = Math.ceil((stop - start) / step);
  return Array.from({ length: Math.max(0, count) }, (_, i) => start + i * step);
}

/** numpy.interp over the integer grid 0..values.length-1. */
function interpolate(x: number, values: Float64Array): number {
  if (x <= 0) return values[0]!;
  if (x >= values.length - 1) return values[values.length - 1]!;
  const i = Math.floor(x);
  const f = x - i;
  return values[i]! * (1 - f) + values[i + 1]! * f;
}

function checkSteps(steps: number, config: SchedulerConfig): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > config.numTrainTimesteps) {
    throw new CuratorError('bad_input', `steps must be an integer between 1 and ${config.numTrainTimesteps}`);
  }
}

/** Descending timesteps of DDIM, Euler and Euler ancestral (float for Euler's linspace). */
function discreteTimesteps(config: SchedulerConfig, steps: number, integer: boolean): number[] {
  const n = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace': {
      const values = linspace(0, n - 1, steps).reverse();
      return integer ? values.map(roundHalfEven) : values;
    }
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + config.stepsOffset).reverse();
    }
    case 'trailing':
      return arangeDown(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

export interface StepOptions {
  /** Standard normal noise shaped like the sample; only schedulers with `needsNoise` read it. */
  noise?: Float32Array;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The timestep fed to the UNet at each step (one per model evaluation). */
  readonly timesteps: readonly number[];
  /** Karras-style sigmas (one more than timesteps, ending at 0) for sigma-space schedulers. */
  readonly sigmas: readonly number[] | null;
  /** Multiplier of the initial Gaussian latents. */
  readonly initNoiseSigma: number;
  readonly needsNoise: boolean;
  /** Scales the UNet input at step `index` into `out` (Euler schedulers divide by sqrt(sigma^2+1)). */
  scaleModelInput(sample: Float32Array, index: number, out: Float32Array): Float32Array;
  /** Advances `sample` in place by the model output of step `index` (steps run in order 0..n-1). */
  step(modelOutput: Float32Array, index: number, sample: Float32Array, options?: StepOptions): Float32Array;
}

function copyInto(sample: Float32Array, out: Float32Array): Float32Array {
  if (out !== sample) out.set(sample);
  return out;
}

/** DDIM (eta 0) and PNDM share the same "previous sample" algebra over alphas_cumprod. */
abstract class AlphaScheduler {
  protected readonly config: SchedulerConfig;
  protected readonly alphas: Float64Array;
  protected readonly finalAlphaCumprod: number;
  readonly sigmas = null;
  readonly initNoiseSigma = 1;
  readonly needsNoise = false;

  constructor(config: SchedulerConfig) {
    this.config = config;
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

export class PndmScheduler extends AlphaScheduler implements Scheduler {
  readonly name = 'pndm' as const;
  readonly timesteps: readonly number[];
  private readonly stepRatio: number;
  private readonly ets: Float32Array[] = [];
  private currentSample: Float32Array | null = null;
  private counter = 0;

  constructor(config: SchedulerConfig, steps: number) {
    super(config);
    checkSteps(steps, config);
    const n = config.numTrainTimesteps;
    let base: number[];
    if (config.timestepSpacing === 'linspace') base = linspace(0, n - 1, steps).map(roundHalfEven);
    else if (config.timestepSpacing === 'leading') base = Array.from({ length: steps }, (_, i) => i * Math.floor(n / steps) + config.stepsOffset);
    else base = arangeDown(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1).reverse();
    // skip_prk_steps: the second-to-last timestep repeats, since the first PLMS step needs two evaluations.
    const plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    this.timesteps = plms;
    this.stepRatio = Math.floor(n / steps);
  }

  step(modelOutput: Float32Array, _index: number, sample: Float32Array): Float32Array {
    let timestep = this.timesteps[_index]!;
    let prevTimestep = timestep - this.stepRatio;
    if (this.counter !== 1) {
      if (this.ets.length > 3) this.ets.shift();
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
    this.counter++;
    return sample;
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

  constructor(config: SchedulerConfig, steps: number) {
    super(config);
    checkSteps(steps, config);
    this.timesteps = discreteTimesteps(config, steps, true);
    this.stepRatio = Math.floor(config.numTrainTimesteps / steps);
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    const timestep = this.timesteps[index]!;
    const alphaT = this.alphaAt(timestep);
    const alphaPrev = this.alphaAt(timestep - this.stepRatio);
    const [sa, sb] = [Math.sqrt(alphaT), Math.sqrt(1 - alphaT)];
    const [pa, pb] = [Math.sqrt(alphaPrev), Math.sqrt(1 - alphaPrev)];
    const v = this.config.predictionType === 'v_prediction';
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      const original = v ? sa * x - sb * m : (x - sb * m) / sa;
      const epsilon = v ? sa * m + sb * x : m;
      sample[i] = pa * original + pb * epsilon;
    }
    return sample;
  }
}

/** Noise levels sigma = sqrt((1 - alpha_cumprod) / alpha_cumprod) of every training timestep. */
export function trainingSigmas(alphas: Float64Array): Float64Array {
  return alphas.map((a) => Math.sqrt((1 - a) / a));
}

/** Shared by Euler and Euler ancestral: sigma-space sampling with a scaled model input. */
abstract class SigmaScheduler {
  protected readonly config: SchedulerConfig;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;

  constructor(config: SchedulerConfig, steps: number) {
    checkSteps(steps, config);
    this.config = config;
    const trainSigmas = trainingSigmas(alphasCumprod(config));
    this.timesteps = discreteTimesteps(config, steps, false);
    this.sigmas = [...this.timesteps.map((t) => interpolate(t, trainSigmas)), 0];
    const max = Math.max(...this.sigmas);
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  scaleModelInput(sample: Float32Array, index: number, out: Float32Array): Float32Array {
    const sigma = this.sigmas[index]!;
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i]! * scale;
    return out;
  }

  /** The denoised estimate's coefficients: original = a * sample + b * modelOutput. */
  protected originalCoefficients(sigma: number): [number, number] {
    if (this.config.predictionType === 'v_prediction') return [1 / (sigma * sigma + 1), -sigma / Math.sqrt(sigma * sigma + 1)];
    return [1, -sigma];
  }
}

export class EulerScheduler extends SigmaScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly needsNoise = false;

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

/** Timesteps of DPMSolverMultistepScheduler (integers, descending). */
function dpmTimesteps(config: SchedulerConfig, steps: number): number[] {
  const n = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace':
      return linspace(0, n - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
    case 'leading': {
      const ratio = Math.floor(n / (steps + 1));
      return Array.from({ length: steps + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + config.stepsOffset);
    }
    case 'trailing':
      return arangeDown(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

/** alpha_t, sigma_t and lambda_t = log(alpha_t / sigma_t) of a Karras sigma. */
function dpmTerms(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const s = sigma * alpha;
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

/**
 * DPM-Solver++ (data prediction), solver_order 2, midpoint solver, final sigma 0 and
 * lower_order_final: the first and the last step are first order.
 */
export class DpmSolverPlusPlusScheduler implements Scheduler {
  readonly name = 'dpm-solver++' as const;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly needsNoise = false;
  private readonly config: SchedulerConfig;
  private previousOriginal: Float32Array | null = null;
  private currentOriginal: Float32Array | null = null;

  constructor(config: SchedulerConfig, steps: number) {
    checkSteps(steps, config);
    this.config = config;
    const trainSigmas = trainingSigmas(alphasCumprod(config));
    this.timesteps = dpmTimesteps(config, steps);
    this.sigmas = [...this.timesteps.map((t) => interpolate(t, trainSigmas)), 0];
  }

  scaleModelInput(sample: Float32Array, _index: number, out: Float32Array): Float32Array {
    return copyInto(sample, out);
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    const s0 = dpmTerms(this.sigmas[index]!);
    const t = dpmTerms(this.sigmas[index + 1]!);
    const size = sample.length;
    // Data prediction x0 from the model output at the current noise level.
    const original = this.previousOriginal && this.previousOriginal.length === size ? this.previousOriginal : new Float32Array(size);
    const v = this.config.predictionType === 'v_prediction';
    for (let i = 0; i < size; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      original[i] = v ? s0.alpha * x - s0.sigma * m : (x - s0.sigma * m) / s0.alpha;
    }
    // The buffer of the step before last is free again: reuse it for this step's estimate.
    this.previousOriginal = this.currentOriginal;
    this.currentOriginal = original;
    const isLast = index === this.timesteps.length - 1;
    const firstOrder = index === 0 || isLast || this.previousOriginal === null;
    const h = t.lambda - s0.lambda;
    const ratio = t.sigma / s0.sigma;
    const decay = t.alpha * (Math.exp(-h) - 1);
    if (firstOrder) {
      for (let i = 0; i < size; i++) sample[i] = ratio * sample[i]! - decay * original[i]!;
    } else {
      const s1 = dpmTerms(this.sigmas[index - 1]!);
      const r0 = (s0.lambda - s1.lambda) / h;
      const previous = this.previousOriginal!;
      for (let i = 0; i < size; i++) {
        const d0 = original[i]!;
        const d1 = (d0 - previous[i]!) / r0;
        sample[i] = ratio * sample[i]! - decay * d0 - 0.5 * decay * d1;
      }
    }
    return sample;
  }
}

export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  switch (name) {
    case 'pndm':
      return new PndmScheduler(config, steps);
    case 'ddim':
      return new DdimScheduler(config, steps);
    case 'euler':
      return new EulerScheduler(config, steps);
    case 'euler-ancestral':
      return new EulerAncestralScheduler(config, steps);
    case 'dpm-solver++':
      return new DpmSolverPlusPlusScheduler(config, steps);
    default:
      throw new CuratorError('bad_input', `Unknown scheduler "${String(name)}"`);
  }
}
