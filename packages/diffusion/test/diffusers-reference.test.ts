// Curator's schedulers against diffusers' own (packages/reference/schedulers/make_fixtures.py):
// timesteps, sigmas, init_noise_sigma and every step of the pipeline loop, for each scheduler and
// a range of scheduler_config.json files, including Stable Diffusion v1's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schedulersReferenceDir } from '@curator/reference';
import { createScheduler, parseSchedulerConfig, type SchedulerName } from '../src/schedulers.ts';

interface Schedule {
  scheduler: SchedulerName;
  config: Record<string, unknown>;
  steps: number;
  timesteps: number[];
  sigmas: number[] | null;
  initNoiseSigma: number;
}
interface Run extends Schedule {
  initial: number[];
  noise: number[][] | null;
  samples: number[][];
}
const reference = JSON.parse(readFileSync(join(schedulersReferenceDir, 'diffusers-schedulers.json'), 'utf8')) as {
  diffusers: string;
  shape: number[];
  runs: Run[];
  schedules: Schedule[];
};
const size = reference.shape.reduce((a, b) => a * b, 1);
const imageSize = size / reference.shape[0]!;

/**
 * diffusers computes betas and alphas_cumprod in float32, Curator in float64, so values are compared
 * relative to max(1, |expected|): sigmas and init_noise_sigma within 2e-5 (seen: 6e-6), samples
 * within 1e-4 (seen: 4e-5, on a zero-terminal-SNR schedule whose first sigma is 4096). Integer
 * timesteps must be equal, except those DPM-Solver truncates from exponential sigmas, where a value
 * within float32 rounding of an integer may land on its neighbour (seen once: 999 for diffusers' 998).
 * Fractional timesteps (Euler with Karras/exponential sigmas) within 2e-3 (seen: 1.2e-3).
 */
const sigmaTolerance = 2e-5;
const sampleTolerance = 1e-4;
const fractionalTimestepTolerance = 2e-3;

function label(s: Schedule): string {
  const keys = Object.entries(s.config).filter(([k]) => !['_diffusers_version', 'beta_end', 'beta_start', 'num_train_timesteps', 'trained_betas', 'clip_sample', 'set_alpha_to_one', 'skip_prk_steps', 'steps_offset', 'beta_schedule'].includes(k) || s.config._class_name !== 'PNDMScheduler');
  return `${s.scheduler} ${s.steps} steps ${JSON.stringify(Object.fromEntries(keys.filter(([k]) => k !== 'trained_betas')))}`;
}

function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
}

function checkSchedule(s: Schedule): ReturnType<typeof createScheduler> {
  const scheduler = createScheduler(s.scheduler, parseSchedulerConfig(s.config), s.steps, { imageSize });
  const name = label(s);
  assert.equal(scheduler.timesteps.length, s.timesteps.length, `${name}: timestep count`);
  s.timesteps.forEach((t, i) => {
    const ours = scheduler.timesteps[i]!;
    const truncatedFromSigma = s.scheduler === 'dpm-solver++' && s.config.use_exponential_sigmas === true;
    if (truncatedFromSigma) assert.ok(Math.abs(ours - t) <= 1, `${name}: timestep ${i}: ${ours} vs ${t}`);
    else if (Number.isInteger(t) && Number.isInteger(ours)) assert.equal(ours, t, `${name}: timestep ${i}`);
    else assert.ok(Math.abs(ours - t) <= fractionalTimestepTolerance, `${name}: timestep ${i}: ${ours} vs ${t}`);
  });
  if (s.sigmas) {
    assert.equal(scheduler.sigmas?.length, s.sigmas.length, `${name}: sigma count`);
    s.sigmas.forEach((sigma, i) => assert.ok(relativeError(scheduler.sigmas![i]!, sigma) <= sigmaTolerance, `${name}: sigma ${i}: ${scheduler.sigmas![i]} vs ${sigma}`));
  } else {
    assert.equal(scheduler.sigmas, null, name);
  }
  assert.ok(relativeError(scheduler.initNoiseSigma, s.initNoiseSigma) <= sigmaTolerance, `${name}: init_noise_sigma ${scheduler.initNoiseSigma} vs ${s.initNoiseSigma}`);
  return scheduler;
}

/** The stand-in model of make_fixtures.py: 0.6 * eps_i + 0.5 * scaled input. */
function eps(step: number): Float32Array {
  return Float32Array.from({ length: size }, (_, k) => Math.sin(0.37 * (k + 1) + 1.3 * step) * (1 + 0.5 * Math.cos(0.11 * k)));
}

test(`timesteps, sigmas and init_noise_sigma equal diffusers ${reference.diffusers}'s for every scheduler, spacing and step count`, () => {
  assert.ok(reference.schedules.length > 100);
  for (const s of reference.schedules) checkSchedule(s);
});

test(`every step of the pipeline loop matches diffusers ${reference.diffusers} (relative ${sampleTolerance})`, () => {
  let worst = 0;
  for (const run of reference.runs) {
    const scheduler = checkSchedule(run);
    const sample = Float32Array.from(run.initial, (v) => v * scheduler.initNoiseSigma);
    const scaled = new Float32Array(size);
    run.samples.forEach((expected, i) => {
      scheduler.scaleModelInput(sample, i, scaled);
      const e = eps(i);
      const output = Float32Array.from(scaled, (v, k) => 0.6 * e[k]! + 0.5 * v);
      scheduler.step(output, i, sample, { noise: run.noise ? Float32Array.from(run.noise[i]!) : undefined });
      const error = Math.max(...expected.map((v, k) => relativeError(sample[k]!, v)));
      worst = Math.max(worst, error);
      assert.ok(error <= sampleTolerance, `${label(run)}: step ${i}: max relative error ${error.toExponential(2)}`);
    });
  }
  console.log(`worst relative difference over ${reference.runs.length} runs: ${worst.toExponential(2)}`);
});
