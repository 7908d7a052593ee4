// Reads a diffusers `scheduler_config.json` the way diffusers does, for each of the five
// schedulers: every key of the scheduler class's __init__ is either read (and implemented) or, for
// values Curator does not implement, refused with a `model_load_failed` error that names the key.
// Keys outside a class's signature are ignored, as diffusers ignores them.
import { CuratorError } from '@curator/contracts';

export const schedulerNames = ['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm-solver++'] as const;
export type SchedulerName = (typeof schedulerNames)[number];

export const schedulerClassNames: Record<SchedulerName, string> = {
  pndm: 'PNDMScheduler',
  ddim: 'DDIMScheduler',
  euler: 'EulerDiscreteScheduler',
  'euler-ancestral': 'EulerAncestralDiscreteScheduler',
  'dpm-solver++': 'DPMSolverMultistepScheduler',
};

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
/** How the sigma-space schedulers place their sigmas. */
export type SigmaSpacing = 'interpolated' | 'karras' | 'exponential' | 'lu';

/** A scheduler's config with every key decided (diffusers' names in camelCase). */
export interface ResolvedSchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas: number[] | null;
  rescaleBetasZeroSnr: boolean;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  predictionType: PredictionType;
  /** PNDM */
  skipPrkSteps: boolean;
  /** PNDM, DDIM */
  setAlphaToOne: boolean;
  /** DDIM */
  clipSample: boolean;
  clipSampleRange: number;
  /** DDIM, DPM-Solver */
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  /** Euler */
  interpolationType: 'linear' | 'log_linear';
  timestepType: 'discrete' | 'continuous';
  /** Euler, DPM-Solver */
  sigmaSpacing: SigmaSpacing;
  sigmaMin: number | null;
  sigmaMax: number | null;
  finalSigmasType: 'zero' | 'sigma_min';
  /** DPM-Solver */
  solverOrder: 1 | 2 | 3;
  algorithmType: 'dpmsolver++' | 'sde-dpmsolver++';
  solverType: 'midpoint' | 'heun';
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  lambdaMinClipped: number;
}

/** The file's keys, and the scheduler the model ships with. */
export interface SchedulerConfig {
  /** From `_class_name`. */
  defaultScheduler: SchedulerName;
  /** The keys the file sets explicitly (diffusers' `from_config` carries only these to another class). */
  keys: Readonly<Record<string, unknown>>;
}

type Refusal = string;
interface KeySpec {
  /** diffusers' default for this class. */
  default: unknown;
  /** undefined when the value is supported, else why not. */
  check(value: unknown): Refusal | undefined;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const number = (fallback: number): KeySpec => ({ default: fallback, check: (v) => (isNumber(v) ? undefined : 'must be a number') });
const integer = (fallback: number, min: number): KeySpec => ({
  default: fallback,
  check: (v) => (Number.isInteger(v) && (v as number) >= min ? undefined : `must be an integer >= ${min}`),
});
const boolean = (fallback: boolean): KeySpec => ({ default: fallback, check: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false') });
const oneOf = (fallback: unknown, supported: readonly unknown[], notImplemented: Record<string, string> = {}): KeySpec => ({
  default: fallback,
  check: (v) => {
    if (supported.includes(v)) return undefined;
    if (typeof v === 'string' && notImplemented[v]) return `"${v}" is not implemented in Curator (${notImplemented[v]})`;
    return `"${String(v)}" is not one of ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
  },
});
/** A boolean whose `true` Curator does not implement. */
const onlyFalse = (why: string): KeySpec => ({
  default: false,
  check: (v) => (v === false ? undefined : v === true ? `true is not implemented in Curator (${why})` : 'must be true or false'),
});
const nullableNumber: KeySpec = { default: null, check: (v) => (v === null || isNumber(v) ? undefined : 'must be a number or null') };
const trainedBetas: KeySpec = {
  default: null,
  check: (v) => (v === null || (Array.isArray(v) && v.length > 0 && v.every(isNumber)) ? undefined : 'must be null or a list of numbers'),
};
const anything = (fallback: unknown): KeySpec => ({ default: fallback, check: () => undefined });

const betaKeys = {
  num_train_timesteps: integer(1000, 1),
  beta_start: number(0.0001),
  beta_end: number(0.02),
  beta_schedule: oneOf('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
  trained_betas: trainedBetas,
};

/** Every __init__ key of each diffusers class (diffusers 0.40), with its default and what Curator runs. */
const classKeys: Record<SchedulerName, Record<string, KeySpec>> = {
  pndm: {
    ...betaKeys,
    skip_prk_steps: boolean(false),
    set_alpha_to_one: boolean(false),
    prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction']),
    timestep_spacing: oneOf('leading', ['leading', 'trailing', 'linspace']),
    steps_offset: integer(0, 0),
  },
  ddim: {
    ...betaKeys,
    clip_sample: boolean(true),
    set_alpha_to_one: boolean(true),
    steps_offset: integer(0, 0),
    prediction_type: oneOf('epsilon', ['epsilon', 'sample', 'v_prediction']),
    thresholding: boolean(false),
    dynamic_thresholding_ratio: number(0.995),
    clip_sample_range: number(1.0),
    sample_max_value: number(1.0),
    timestep_spacing: oneOf('leading', ['leading', 'trailing', 'linspace']),
    rescale_betas_zero_snr: boolean(false),
  },
  euler: {
    ...betaKeys,
    prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction', 'sample', 'original_sample']),
    interpolation_type: oneOf('linear', ['linear', 'log_linear']),
    use_karras_sigmas: boolean(false),
    use_exponential_sigmas: boolean(false),
    use_beta_sigmas: onlyFalse('beta sigmas need the beta distribution quantile function from scipy'),
    sigma_min: nullableNumber,
    sigma_max: nullableNumber,
    timestep_spacing: oneOf('linspace', ['leading', 'trailing', 'linspace']),
    timestep_type: oneOf('discrete', ['discrete', 'continuous']),
    steps_offset: integer(0, 0),
    rescale_betas_zero_snr: boolean(false),
    final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
  },
  'euler-ancestral': {
    ...betaKeys,
    prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction'], { sample: 'diffusers raises NotImplementedError for it too' }),
    timestep_spacing: oneOf('linspace', ['leading', 'trailing', 'linspace']),
    steps_offset: integer(0, 0),
    rescale_betas_zero_snr: boolean(false),
  },
  'dpm-solver++': {
    ...betaKeys,
    solver_order: oneOf(2, [1, 2, 3]),
    prediction_type: oneOf('epsilon', ['epsilon', 'sample', 'v_prediction'], { flow_prediction: 'flow-matching models are not Stable Diffusion UNets' }),
    thresholding: boolean(false),
    dynamic_thresholding_ratio: number(0.995),
    sample_max_value: number(1.0),
    // diffusers maps "deis" to dpmsolver++; "dpmsolver" and "sde-dpmsolver" are deprecated there.
    algorithm_type: oneOf('dpmsolver++', ['dpmsolver++', 'sde-dpmsolver++', 'deis'], {
      dpmsolver: 'deprecated in diffusers; use dpmsolver++',
      'sde-dpmsolver': 'deprecated in diffusers; use sde-dpmsolver++',
    }),
    // diffusers maps the UniPC/DEIS solver types "logrho", "bh1", "bh2" to midpoint.
    solver_type: oneOf('midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
    lower_order_final: boolean(true),
    euler_at_final: boolean(false),
    use_karras_sigmas: boolean(false),
    use_exponential_sigmas: boolean(false),
    use_beta_sigmas: onlyFalse('beta sigmas need the beta distribution quantile function from scipy'),
    use_lu_lambdas: boolean(false),
    use_flow_sigmas: onlyFalse('flow-matching models are not Stable Diffusion UNets'),
    // Read only with flow sigmas (refused above).
    flow_shift: anything(1.0),
    final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
    lambda_min_clipped: { default: -Infinity, check: (v) => (typeof v === 'number' && !Number.isNaN(v) ? undefined : 'must be a number') },
    variance_type: oneOf(null, [null], { learned: 'needs a UNet that predicts its variance', learned_range: 'needs a UNet that predicts its variance' }),
    timestep_spacing: oneOf('linspace', ['leading', 'trailing', 'linspace']),
    steps_offset: integer(0, 0),
    rescale_betas_zero_snr: boolean(false),
    // Only act when a pipeline passes `mu` to set_timesteps, which Stable Diffusion pipelines never do.
    use_dynamic_shifting: anything(false),
    time_shift_type: anything('exponential'),
  },
};

// Not in a class's __init__ but read by diffusers through `hasattr(self.config, ...)` when a file carries them.
const carriedKeys: Partial<Record<SchedulerName, Record<string, KeySpec>>> = {
  'dpm-solver++': { sigma_min: nullableNumber, sigma_max: nullableNumber },
};

function refuse(file: string, key: string, value: unknown, why: string, scheduler: SchedulerName): CuratorError {
  return new CuratorError('model_load_failed', `${file}: ${key} ${JSON.stringify(value)} for ${schedulerClassNames[scheduler]}: ${why}`, {
    details: [{ path: key, message: why }],
  });
}

export interface ParseSchedulerOptions {
  /** Where the config came from, for messages. */
  file?: string;
  /** The scheduler class model_index.json names: a pipeline loads that class, whatever `_class_name` says. */
  pipelineClass?: string;
}

/**
 * Reads the file's explicit keys. The pipeline's class (else `_class_name`, else PNDMScheduler)
 * names the model's own scheduler; a class Curator does not implement is refused (its defaults
 * could not be known). The keys are checked per scheduler by resolveSchedulerConfig.
 */
export function parseSchedulerConfig(json: Record<string, unknown>, options: ParseSchedulerOptions = {}): SchedulerConfig {
  const file = options.file ?? 'scheduler_config.json';
  const className = options.pipelineClass ?? json._class_name ?? 'PNDMScheduler';
  const defaultScheduler = schedulerNames.find((name) => schedulerClassNames[name] === className);
  if (!defaultScheduler) {
    throw new CuratorError('model_load_failed', `${file}: scheduler class ${JSON.stringify(className)} is not one Curator implements (${Object.values(schedulerClassNames).join(', ')})`, {
      details: [{ path: '_class_name', message: 'unsupported scheduler class' }],
    });
  }
  // diffusers drops keys it recorded as defaulted, and every private `_` key.
  const defaulted = Array.isArray(json._use_default_values) ? new Set(json._use_default_values) : new Set<unknown>();
  const keys = Object.fromEntries(Object.entries(json).filter(([key]) => !key.startsWith('_') && !defaulted.has(key)));
  return { defaultScheduler, keys };
}

/**
 * The config `name` runs with: the file's explicit keys over the class's own defaults, as
 * `Class.from_config(pipeline.scheduler.config)` builds it in diffusers.
 */
export function resolveSchedulerConfig(name: SchedulerName, config: SchedulerConfig, file = 'scheduler_config.json'): ResolvedSchedulerConfig {
  const specs = { ...classKeys[name], ...carriedKeys[name] };
  const value = (key: string): unknown => {
    const spec = specs[key]!;
    const given = Object.hasOwn(config.keys, key) ? config.keys[key] : spec.default;
    const why = spec.check(given);
    if (why !== undefined) throw refuse(file, key, given, why, name);
    return given;
  };
  const read = <T>(key: string, fallback: T): T => (key in specs ? (value(key) as T) : fallback);
  // Validate every key of the class, even those the chosen options do not reach.
  for (const key of Object.keys(specs)) value(key);

  const numTrainTimesteps = read('num_train_timesteps', 1000);
  const betas = read<number[] | null>('trained_betas', null);
  if (betas && betas.length !== numTrainTimesteps) {
    throw refuse(file, 'trained_betas', `${betas.length} values`, `must hold num_train_timesteps (${numTrainTimesteps}) values`, name);
  }
  const flag = (key: string) => read<boolean>(key, false);
  const sigmaFlags = ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas'].filter(flag);
  if (sigmaFlags.length > 1) throw refuse(file, sigmaFlags.join(' + '), true, 'only one of them can be used (diffusers raises too)', name);
  // diffusers' order of precedence (use_lu_lambdas exists in DPM-Solver only).
  const sigmaSpacing: SigmaSpacing = flag('use_karras_sigmas') ? 'karras' : flag('use_lu_lambdas') ? 'lu' : flag('use_exponential_sigmas') ? 'exponential' : 'interpolated';
  const prediction = read<string>('prediction_type', 'epsilon');
  const algorithm = read<string>('algorithm_type', 'dpmsolver++');
  const solverType = read<string>('solver_type', 'midpoint');
  return {
    numTrainTimesteps,
    betaStart: read('beta_start', 0.0001),
    betaEnd: read('beta_end', 0.02),
    betaSchedule: read('beta_schedule', 'linear'),
    trainedBetas: betas,
    rescaleBetasZeroSnr: read('rescale_betas_zero_snr', false),
    timestepSpacing: read('timestep_spacing', 'leading'),
    stepsOffset: read('steps_offset', 0),
    predictionType: prediction === 'original_sample' ? 'sample' : (prediction as PredictionType),
    skipPrkSteps: read('skip_prk_steps', true),
    setAlphaToOne: read('set_alpha_to_one', false),
    clipSample: read('clip_sample', false),
    clipSampleRange: read('clip_sample_range', 1),
    thresholding: read('thresholding', false),
    dynamicThresholdingRatio: read('dynamic_thresholding_ratio', 0.995),
    sampleMaxValue: read('sample_max_value', 1),
    interpolationType: read('interpolation_type', 'linear'),
    timestepType: read('timestep_type', 'discrete'),
    sigmaSpacing,
    sigmaMin: read('sigma_min', null),
    sigmaMax: read('sigma_max', null),
    finalSigmasType: read('final_sigmas_type', 'zero'),
    solverOrder: read('solver_order', 2),
    algorithmType: algorithm === 'deis' ? 'dpmsolver++' : (algorithm as 'dpmsolver++' | 'sde-dpmsolver++'),
    solverType: solverType === 'heun' ? 'heun' : 'midpoint',
    lowerOrderFinal: read('lower_order_final', true),
    eulerAtFinal: read('euler_at_final', false),
    lambdaMinClipped: read('lambda_min_clipped', -Infinity),
  };
}
