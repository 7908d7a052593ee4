// How a scheduler_config.json configures each scheduler (diffusers' defaults per class, which keys
// carry over to another class, what is refused), and the step bookkeeping the engine reports
// progress with. The numbers themselves are checked against diffusers in diffusers-reference.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCuratorError } from '@curator/contracts';
import { createScheduler, parseSchedulerConfig, resolveSchedulerConfig, thresholdSample, type SchedulerName } from '../src/schedulers.ts';
import { parsePythonJson } from '../src/python-json.ts';

/** Stable Diffusion v1's scheduler/scheduler_config.json. */
const sdV1 = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.7.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

test("Stable Diffusion v1's config runs PNDM with PLMS only, offset 1, no alpha set to one", () => {
  const config = parseSchedulerConfig(sdV1);
  assert.equal(config.defaultScheduler, 'pndm');
  const pndm = resolveSchedulerConfig('pndm', config);
  assert.deepEqual([pndm.skipPrkSteps, pndm.setAlphaToOne, pndm.stepsOffset, pndm.timestepSpacing, pndm.betaSchedule], [true, false, 1, 'leading', 'scaled_linear']);
  const fifty = createScheduler('pndm', config, 50);
  assert.deepEqual(fifty.timesteps.slice(0, 5), [981, 961, 961, 941, 921]);
  assert.equal(fifty.timesteps.length, 51);
});

test("keys the file leaves out take each class's own diffusers default", () => {
  const bare = parseSchedulerConfig({ _class_name: 'PNDMScheduler' });
  const pndm = resolveSchedulerConfig('pndm', bare);
  // diffusers' PNDMScheduler: set_alpha_to_one false, skip_prk_steps false (the Runge-Kutta warm-up runs).
  assert.equal(pndm.setAlphaToOne, false);
  assert.equal(pndm.skipPrkSteps, false);
  assert.equal(createScheduler('pndm', bare, 10).timesteps.length, 19);
  // DDIMScheduler's defaults differ: set_alpha_to_one true, clip_sample true.
  const ddim = resolveSchedulerConfig('ddim', parseSchedulerConfig({ _class_name: 'DDIMScheduler' }));
  assert.deepEqual([ddim.setAlphaToOne, ddim.clipSample], [true, true]);
  const euler = resolveSchedulerConfig('euler', bare);
  assert.deepEqual([euler.timestepSpacing, euler.stepsOffset, euler.predictionType], ['linspace', 0, 'epsilon']);
});

test('another scheduler gets the explicit keys of the file and its own defaults for the rest (from_config)', () => {
  const config = parseSchedulerConfig(sdV1);
  // clip_sample is no PNDM key, but the file sets it, so DDIM reads it; set_alpha_to_one carries too.
  const ddim = resolveSchedulerConfig('ddim', config);
  assert.deepEqual([ddim.clipSample, ddim.setAlphaToOne, ddim.stepsOffset], [false, false, 1]);
  // PNDM's default "leading" spacing was never written down: Euler keeps its own "linspace".
  assert.equal(resolveSchedulerConfig('euler', config).timestepSpacing, 'linspace');
  assert.deepEqual(createScheduler('euler', config, 10).timesteps.slice(0, 3), [999, 888, 777]);
  assert.equal(resolveSchedulerConfig('euler', parseSchedulerConfig({ ...sdV1, timestep_spacing: 'leading' })).timestepSpacing, 'leading');
  // Keys diffusers recorded as defaulted do not carry.
  const recorded = parseSchedulerConfig({ ...sdV1, timestep_spacing: 'leading', _use_default_values: ['timestep_spacing'] });
  assert.equal(resolveSchedulerConfig('euler', recorded).timestepSpacing, 'linspace');
});

test("model_index.json's scheduler class is the model's own scheduler", () => {
  assert.equal(parseSchedulerConfig(sdV1, { pipelineClass: 'DDIMScheduler' }).defaultScheduler, 'ddim');
  assert.equal(parseSchedulerConfig({ ...sdV1, _class_name: 'EulerDiscreteScheduler' }).defaultScheduler, 'euler');
});

function refusal(fn: () => unknown): { message: string; path: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isCuratorError(error) && error.code === 'model_load_failed', String(error));
    return { message: error.message, path: (error.details as Array<{ path: string }>)[0]!.path };
  }
  assert.fail('expected a refusal');
}

test('values Curator does not implement are refused, naming the key', () => {
  const cases: Array<[SchedulerName, Record<string, unknown>, string]> = [
    ['pndm', { prediction_type: 'sample' }, 'prediction_type'],
    ['ddim', { prediction_type: 'flow_prediction' }, 'prediction_type'],
    ['ddim', { beta_schedule: 'sigmoid' }, 'beta_schedule'],
    ['ddim', { timestep_spacing: 'uniform' }, 'timestep_spacing'],
    ['ddim', { trained_betas: [0.1, 0.2] }, 'trained_betas'],
    ['ddim', { steps_offset: 'one' }, 'steps_offset'],
    ['ddim', { thresholding: 'yes' }, 'thresholding'],
    ['euler', { use_beta_sigmas: true }, 'use_beta_sigmas'],
    ['euler', { use_karras_sigmas: true, use_exponential_sigmas: true }, 'use_karras_sigmas + use_exponential_sigmas'],
    ['euler', { interpolation_type: 'cubic' }, 'interpolation_type'],
    ['euler', { final_sigmas_type: 'one' }, 'final_sigmas_type'],
    ['euler-ancestral', { prediction_type: 'sample' }, 'prediction_type'],
    ['dpm-solver++', { algorithm_type: 'dpmsolver' }, 'algorithm_type'],
    ['dpm-solver++', { algorithm_type: 'sde-dpmsolver' }, 'algorithm_type'],
    ['dpm-solver++', { variance_type: 'learned_range' }, 'variance_type'],
    ['dpm-solver++', { use_flow_sigmas: true }, 'use_flow_sigmas'],
    ['dpm-solver++', { prediction_type: 'flow_prediction' }, 'prediction_type'],
    ['dpm-solver++', { solver_order: 4 }, 'solver_order'],
  ];
  for (const [scheduler, keys, key] of cases) {
    const { message, path } = refusal(() => resolveSchedulerConfig(scheduler, parseSchedulerConfig({ ...sdV1, ...keys })));
    assert.equal(path, key, JSON.stringify(keys));
    assert.ok(message.includes(key), message);
  }
  assert.match(refusal(() => parseSchedulerConfig({ ...sdV1, _class_name: 'LMSDiscreteScheduler' })).message, /LMSDiscreteScheduler/);
  // Keys outside a class's signature are ignored, as diffusers ignores them.
  assert.doesNotThrow(() => resolveSchedulerConfig('pndm', parseSchedulerConfig({ ...sdV1, use_karras_sigmas: 'whatever', solver_order: 9 })));
  // DPM-Solver's "deis" is dpmsolver++ in diffusers, and its UniPC solver types are midpoint.
  const dpm = resolveSchedulerConfig('dpm-solver++', parseSchedulerConfig({ ...sdV1, algorithm_type: 'deis', solver_type: 'bh2' }));
  assert.deepEqual([dpm.algorithmType, dpm.solverType], ['dpmsolver++', 'midpoint']);
});

test('steps done per model evaluation: PNDM evaluates more often than it steps', () => {
  const evaluations = (name: SchedulerName, config: Record<string, unknown>, steps: number) => {
    const scheduler = createScheduler(name, parseSchedulerConfig(config), steps);
    return scheduler.timesteps.map((_, i) => scheduler.stepsDone(i));
  };
  assert.deepEqual(evaluations('pndm', sdV1, 50), Array.from({ length: 51 }, (_, i) => i));
  assert.deepEqual(evaluations('pndm', sdV1, 1), [1]);
  // The Runge-Kutta warm-up: four evaluations for each of the first three steps, then one per step.
  assert.deepEqual(evaluations('pndm', { ...sdV1, skip_prk_steps: false }, 6), [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6]);
  for (const name of ['ddim', 'euler', 'euler-ancestral', 'dpm-solver++'] as const) assert.deepEqual(evaluations(name, sdV1, 7), [1, 2, 3, 4, 5, 6, 7], name);
});

test('step counts outside what a scheduler can run are bad input', () => {
  for (const [config, steps] of [[sdV1, 0], [sdV1, 1001], [{ ...sdV1, skip_prk_steps: false }, 3]] as const) {
    assert.throws(() => createScheduler('pndm', parseSchedulerConfig(config), steps), (error: unknown) => isCuratorError(error) && error.code === 'bad_input');
  }
});

test('noise-driven schedulers refuse to step without noise', () => {
  for (const config of [sdV1, { ...sdV1, algorithm_type: 'sde-dpmsolver++' }]) {
    const name = config === sdV1 ? 'euler-ancestral' : 'dpm-solver++';
    const scheduler = createScheduler(name, parseSchedulerConfig(config), 4);
    assert.equal(scheduler.needsNoise, true);
    assert.throws(() => scheduler.step(new Float32Array(4), 0, new Float32Array(4)), /noise/);
  }
});

test('dynamic thresholding works per image: quantile of |x0|, clamped to [1, sample_max_value]', () => {
  // Image 1: |x| sorted 0.5, 1, 2, 3; the 0.5 quantile interpolates to 1.5. Image 2 stays within 1.
  const x0 = Float32Array.from([0.5, -3, 2, 1, 0.2, -0.4, 0.1, 0.3]);
  thresholdSample(x0, 4, 0.5, 2);
  assert.deepEqual(Array.from(x0), [0.5 / 1.5, -1, 1, 1 / 1.5, 0.2, -0.4, 0.1, 0.3].map(Math.fround));
  // sample_max_value caps s.
  const capped = Float32Array.from([4, -4, 4, -4]);
  thresholdSample(capped, 4, 0.9, 2);
  assert.deepEqual(Array.from(capped), [1, -1, 1, -1]);
});

test("diffusers' config files spell infinite floats as Python does", () => {
  const parsed = parsePythonJson('{"lambda_min_clipped": -Infinity, "note": "NaN and -Infinity \\" stay text", "x": [NaN, Infinity]}') as Record<string, unknown>;
  assert.equal(parsed.lambda_min_clipped, -Infinity);
  assert.equal(parsed.note, 'NaN and -Infinity " stay text');
  assert.deepEqual(parsed.x, [NaN, Infinity]);
  assert.throws(() => parsePythonJson('{"a": Infinit}'), SyntaxError);
  assert.equal(resolveSchedulerConfig('dpm-solver++', parseSchedulerConfig({ ...sdV1, lambda_min_clipped: parsed.lambda_min_clipped })).lambdaMinClipped, -Infinity);
});
