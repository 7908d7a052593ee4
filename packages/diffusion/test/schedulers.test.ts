// Expected values are derived here, independently of src/, from the formulas diffusers implements
// (betas -> alphas_cumprod -> timesteps/sigmas, then each scheduler's update rule on scalars).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduler, parseSchedulerConfig, type SchedulerName } from '../src/schedulers.ts';

const sdConfig = parseSchedulerConfig({
  _class_name: 'PNDMScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
});

// ---- reference formulas ----
function refAlphasCumprod(n: number, betaStart: number, betaEnd: number, schedule: string): number[] {
  const betas: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = i / (n - 1);
    betas.push(schedule === 'scaled_linear' ? (Math.sqrt(betaStart) * (1 - f) + Math.sqrt(betaEnd) * f) ** 2 : betaStart * (1 - f) + betaEnd * f);
  }
  const out: number[] = [];
  betas.reduce((acc, b) => {
    const next = acc * (1 - b);
    out.push(next);
    return next;
  }, 1);
  return out;
}
const npRound = (x: number) => {
  const f = Math.floor(x);
  const d = x - f;
  if (Math.abs(d - 0.5) < 1e-12) return f % 2 === 0 ? f : f + 1;
  return Math.round(x);
};
function refLeading(steps: number, ratio: number, offset: number): number[] {
  const out: number[] = [];
  for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + offset);
  return out;
}
function refTrailing(n: number, steps: number): number[] {
  const out: number[] = [];
  for (let t = n; t > 0; t -= n / steps) out.push(npRound(t) - 1);
  return out;
}
function refLinspaceDesc(n: number, count: number): number[] {
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(((n - 1) * i) / (count - 1));
  return out;
}
const refSigmaAt = (ac: number[], t: number) => {
  const sig = (i: number) => Math.sqrt((1 - ac[i]!) / ac[i]!);
  const i = Math.floor(t);
  return i >= ac.length - 1 ? sig(ac.length - 1) : sig(i) + (sig(i + 1) - sig(i)) * (t - i);
};

function close(actual: readonly number[], expected: readonly number[], tolerance: number, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance * Math.max(1, Math.abs(expected[i]!)), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const ac = refAlphasCumprod(1000, 0.00085, 0.012, 'scaled_linear');

test('PNDM timesteps (skip_prk_steps, leading, offset 1) for 50, 25, 10 steps', () => {
  for (const steps of [50, 25, 10]) {
    const base = refLeading(steps, Math.floor(1000 / steps), 1).reverse();
    const expected = [...base.slice(0, -1), base[base.length - 2]!, base[base.length - 1]!].reverse();
    assert.deepEqual(createScheduler('pndm', sdConfig, steps).timesteps, expected, `steps ${steps}`);
  }
  const fifty = createScheduler('pndm', sdConfig, 50).timesteps;
  assert.deepEqual(fifty.slice(0, 5), [981, 961, 961, 941, 921]);
  assert.equal(fifty.length, 51);
  assert.equal(fifty.at(-1), 1);
});

test('DDIM, Euler and DPM-Solver++ timesteps follow each spacing', () => {
  for (const steps of [50, 25, 10]) {
    const leading = refLeading(steps, Math.floor(1000 / steps), 1);
    assert.deepEqual(createScheduler('ddim', sdConfig, steps).timesteps, leading);
    assert.deepEqual(createScheduler('euler', sdConfig, steps).timesteps, leading);
    assert.deepEqual(createScheduler('euler-ancestral', sdConfig, steps).timesteps, leading);
    assert.deepEqual(createScheduler('dpm-solver++', sdConfig, steps).timesteps, refLeading(steps + 1, Math.floor(1000 / (steps + 1)), 1).slice(0, -1));

    const trailing = { ...sdConfig, timestepSpacing: 'trailing' as const };
    assert.deepEqual(createScheduler('ddim', trailing, steps).timesteps, refTrailing(1000, steps));
    assert.deepEqual(createScheduler('dpm-solver++', trailing, steps).timesteps, refTrailing(1000, steps));

    const linspace = { ...sdConfig, timestepSpacing: 'linspace' as const };
    assert.deepEqual(createScheduler('ddim', linspace, steps).timesteps, refLinspaceDesc(1000, steps).map(npRound));
    close(createScheduler('euler', linspace, steps).timesteps, refLinspaceDesc(1000, steps), 1e-12, 'euler linspace');
    assert.deepEqual(createScheduler('dpm-solver++', linspace, steps).timesteps, refLinspaceDesc(1000, steps + 1).map(npRound).slice(0, -1));
  }
  assert.deepEqual(createScheduler('ddim', sdConfig, 50).timesteps.slice(0, 3), [981, 961, 941]);
  assert.deepEqual(createScheduler('dpm-solver++', { ...sdConfig, timestepSpacing: 'linspace' }, 25).timesteps.slice(0, 3), [999, 959, 919]);
});

test('Euler and DPM sigmas interpolate sqrt((1 - acp) / acp) and end at 0', () => {
  const linspace = { ...sdConfig, timestepSpacing: 'linspace' as const };
  for (const steps of [50, 25, 10]) {
    for (const [name, config] of [['euler', sdConfig], ['euler', linspace], ['dpm-solver++', sdConfig], ['dpm-solver++', linspace]] as const) {
      const scheduler = createScheduler(name, config, steps);
      close(scheduler.sigmas!, [...scheduler.timesteps.map((t) => refSigmaAt(ac, t)), 0], 1e-9, `${name} ${config.timestepSpacing} ${steps}`);
    }
  }
  const euler = createScheduler('euler', linspace, 50);
  assert.ok(Math.abs(euler.sigmas![0]! - 14.6146) < 1e-3, `sigma max ${euler.sigmas![0]}`);
  assert.ok(Math.abs(euler.sigmas!.at(-2)! - 0.0292) < 1e-3, `sigma min ${euler.sigmas!.at(-2)}`);
  assert.equal(euler.initNoiseSigma, euler.sigmas![0]);
  const leading = createScheduler('euler', sdConfig, 50);
  assert.ok(Math.abs(leading.initNoiseSigma - Math.sqrt(leading.sigmas![0]! ** 2 + 1)) < 1e-12);
});

// Scalar reference samplers: run each rule for a few steps on a 2-element sample with a model output
// that depends on the step, and compare with the scheduler.
const modelOutputAt = (step: number, x: number) => 0.3 * x + 0.1 * Math.sin(step + 1);

function referenceRun(name: SchedulerName, steps: number, prediction: 'epsilon' | 'v_prediction', x0: number, noise: (step: number) => number): number {
  const finalAlpha = ac[0]!;
  const alphaAt = (t: number) => (t >= 0 ? ac[t]! : finalAlpha);
  const ratio = Math.floor(1000 / steps);
  const leading = refLeading(steps, ratio, 1);
  let x = x0;
  if (name === 'ddim') {
    leading.forEach((t, i) => {
      const m = modelOutputAt(i, x);
      const a = alphaAt(t);
      const ap = alphaAt(t - ratio);
      const pred0 = prediction === 'epsilon' ? (x - Math.sqrt(1 - a) * m) / Math.sqrt(a) : Math.sqrt(a) * x - Math.sqrt(1 - a) * m;
      const eps = prediction === 'epsilon' ? m : Math.sqrt(a) * m + Math.sqrt(1 - a) * x;
      x = Math.sqrt(ap) * pred0 + Math.sqrt(1 - ap) * eps;
    });
    return x;
  }
  if (name === 'pndm') {
    const base = [...leading].reverse();
    const ts = [...base.slice(0, -1), base[base.length - 2]!, base[base.length - 1]!].reverse();
    const ets: number[] = [];
    let stored = 0;
    ts.forEach((tIn, i) => {
      let t = tIn;
      let prev = t - ratio;
      let m = modelOutputAt(i, x);
      if (i !== 1) ets.push(m);
      else {
        prev = t;
        t = t + ratio;
      }
      let sample = x;
      const e = ets.slice(-4);
      if (e.length === 1 && i === 0) stored = x;
      else if (e.length === 1 && i === 1) {
        m = (m + e[0]!) / 2;
        sample = stored;
      } else if (e.length === 2) m = (3 * e[1]! - e[0]!) / 2;
      else if (e.length === 3) m = (23 * e[2]! - 16 * e[1]! + 5 * e[0]!) / 12;
      else m = (55 * e[3]! - 59 * e[2]! + 37 * e[1]! - 9 * e[0]!) / 24;
      const a = alphaAt(t);
      const ap = alphaAt(prev);
      if (prediction === 'v_prediction') m = Math.sqrt(a) * m + Math.sqrt(1 - a) * sample;
      const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
      x = Math.sqrt(ap / a) * sample - ((ap - a) * m) / denom;
    });
    return x;
  }
  const sigmas = [...leading.map((t) => refSigmaAt(ac, t)), 0];
  if (name === 'euler' || name === 'euler-ancestral') {
    x *= Math.sqrt(sigmas[0]! ** 2 + 1);
    leading.forEach((_, i) => {
      const s = sigmas[i]!;
      const m = modelOutputAt(i, x / Math.sqrt(s * s + 1));
      const pred0 = prediction === 'epsilon' ? x - s * m : m * (-s / Math.sqrt(s * s + 1)) + x / (s * s + 1);
      const d = (x - pred0) / s;
      if (name === 'euler') x += d * (sigmas[i + 1]! - s);
      else {
        const to = sigmas[i + 1]!;
        const up = Math.sqrt((to ** 2 * (s ** 2 - to ** 2)) / s ** 2);
        const down = Math.sqrt(to ** 2 - up ** 2);
        x += d * (down - s) + noise(i) * up;
      }
    });
    return x;
  }
  // DPM-Solver++ 2M
  const dpmTs = refLeading(steps + 1, Math.floor(1000 / (steps + 1)), 1).slice(0, -1);
  const dsig = [...dpmTs.map((t) => refSigmaAt(ac, t)), 0];
  const terms = (s: number) => ({ a: 1 / Math.sqrt(s * s + 1), s: s / Math.sqrt(s * s + 1), l: Math.log(1 / Math.sqrt(s * s + 1)) - Math.log(s / Math.sqrt(s * s + 1)) });
  const outs: number[] = [];
  dpmTs.forEach((_, i) => {
    const m = modelOutputAt(i, x);
    const cur = terms(dsig[i]!);
    outs.push(prediction === 'epsilon' ? (x - cur.s * m) / cur.a : cur.a * x - cur.s * m);
    const next = terms(dsig[i + 1]!);
    const h = next.l - cur.l;
    if (i === 0 || i === dpmTs.length - 1) x = (next.s / cur.s) * x - next.a * (Math.exp(-h) - 1) * outs[i]!;
    else {
      const r0 = (cur.l - terms(dsig[i - 1]!).l) / h;
      const D0 = outs[i]!;
      const D1 = (1 / r0) * (outs[i]! - outs[i - 1]!);
      x = (next.s / cur.s) * x - next.a * (Math.exp(-h) - 1) * D0 - 0.5 * next.a * (Math.exp(-h) - 1) * D1;
    }
  });
  return x;
}

test('every scheduler update matches its reference rule (epsilon and v_prediction)', () => {
  for (const prediction of ['epsilon', 'v_prediction'] as const) {
    for (const name of ['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm-solver++'] as const) {
      for (const steps of [10, 25]) {
        const config = { ...sdConfig, predictionType: prediction };
        const scheduler = createScheduler(name, config, steps);
        const start = [0.7, -1.2];
        const sample = Float32Array.from(start, (v) => v * scheduler.initNoiseSigma);
        const input = new Float32Array(2);
        const noiseAt = (i: number) => Math.cos(3 * i);
        scheduler.timesteps.forEach((_, i) => {
          scheduler.scaleModelInput(sample, i, input);
          const output = Float32Array.from(input, (v) => modelOutputAt(i, v));
          scheduler.step(output, i, sample, { noise: new Float32Array(2).fill(noiseAt(i)) });
        });
        start.forEach((v, k) => {
          const expected = referenceRun(name, steps, prediction, v, noiseAt);
          assert.ok(Math.abs(sample[k]! - expected) < 1e-3 * Math.max(1, Math.abs(expected)), `${name} ${prediction} ${steps}: ${sample[k]} vs ${expected}`);
        });
      }
    }
  }
});

test('config parsing: defaults per class and unsupported values', () => {
  assert.equal(parseSchedulerConfig({ _class_name: 'PNDMScheduler' }).timestepSpacing, 'leading');
  assert.equal(parseSchedulerConfig({ _class_name: 'EulerDiscreteScheduler' }).timestepSpacing, 'linspace');
  assert.equal(parseSchedulerConfig({ _class_name: 'DPMSolverMultistepScheduler' }).defaultScheduler, 'dpm-solver++');
  assert.equal(parseSchedulerConfig({}).setAlphaToOne, true);
  assert.throws(() => parseSchedulerConfig({ beta_schedule: 'squaredcos_cap_v2' }), /beta_schedule/);
  assert.throws(() => createScheduler('ddim', sdConfig, 0), /steps/);
});
