"""Records diffusers' own scheduler behaviour for Curator's scheduler tests.

Run anywhere with `pip install diffusers torch numpy` (Python only makes these fixtures; the tests
are Node):

    python packages/reference/schedulers/make_fixtures.py

writes `diffusers-schedulers.json` next to this file:

- `runs`: for each scheduler and config, the scheduler's timesteps, sigmas and init_noise_sigma
  after `set_timesteps(steps)`, and the sample after every `step()` of the Stable Diffusion
  pipeline's loop (scale_model_input -> model -> step), driven by a fixed stand-in model:
  `model_output_i = 0.6 * eps_i + 0.5 * scaled_input_i`, with
  `eps_i[k] = float32(sin(0.37 * (k + 1) + 1.3 * i) * (1 + 0.5 * cos(0.11 * k)))`.
  The first sample is `init_noise_sigma * initial` (`initial` is recorded). Where a step draws
  noise (Euler ancestral, SDE DPM-Solver++) the noise it used is recorded per step.
- `schedules`: timesteps, sigmas and init_noise_sigma only, for more step counts and spacings.

Each config is what a `scheduler_config.json` would hold; the scheduler named by `scheduler` is
built the way a user swaps schedulers in diffusers: `Class.from_config(Source.from_pretrained(dir).config)`,
which (in current diffusers) keeps the file's explicit keys and the target class's defaults for
the rest.
"""

import json
import math
import os
import tempfile

import numpy as np
import torch

import diffusers
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
)

CLASSES = {
    "pndm": PNDMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler-ancestral": EulerAncestralDiscreteScheduler,
    "dpm-solver++": DPMSolverMultistepScheduler,
}
SOURCE_CLASSES = {cls.__name__: cls for cls in CLASSES.values()}

SHAPE = (2, 4, 2, 2)
SIZE = int(np.prod(SHAPE))

# Stable Diffusion v1's scheduler/scheduler_config.json (CompVis/stable-diffusion-v1-4).
SD_V1 = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.7.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}


def sd(**overrides):
    return {**SD_V1, **overrides}


def of_class(class_name, **keys):
    return {"_class_name": class_name, **keys}


# 100 training betas of a made-up schedule, for `trained_betas`.
TRAINED_BETAS = [round(0.0005 + 0.02 * (i / 99) ** 1.5, 8) for i in range(100)]

RUNS = [
    # PNDM
    ("pndm", sd(), 10),
    ("pndm", sd(), 50),
    ("pndm", sd(skip_prk_steps=False), 10),
    ("pndm", of_class("PNDMScheduler", beta_schedule="linear"), 6),
    ("pndm", sd(prediction_type="v_prediction", timestep_spacing="trailing"), 7),
    ("pndm", sd(timestep_spacing="linspace", set_alpha_to_one=True), 5),
    ("pndm", sd(beta_schedule="squaredcos_cap_v2"), 8),
    # DDIM
    ("ddim", sd(), 10),
    ("ddim", of_class("DDIMScheduler", beta_schedule="linear"), 10),
    ("ddim", sd(thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5, prediction_type="sample"), 8),
    ("ddim", sd(clip_sample=True, clip_sample_range=0.8), 8),
    ("ddim", sd(prediction_type="v_prediction", timestep_spacing="trailing", rescale_betas_zero_snr=True), 6),
    ("ddim", sd(beta_schedule="squaredcos_cap_v2", timestep_spacing="linspace"), 10),
    ("ddim", of_class("DDIMScheduler", trained_betas=TRAINED_BETAS, num_train_timesteps=100, clip_sample=False), 10),
    # Euler
    ("euler", sd(), 10),
    ("euler", sd(timestep_spacing="leading"), 10),
    ("euler", sd(use_karras_sigmas=True), 10),
    ("euler", sd(use_exponential_sigmas=True, sigma_min=0.05, sigma_max=10.0), 8),
    ("euler", sd(interpolation_type="log_linear"), 6),
    ("euler", sd(prediction_type="v_prediction", timestep_type="continuous", final_sigmas_type="sigma_min"), 6),
    ("euler", sd(prediction_type="sample", timestep_spacing="trailing"), 5),
    ("euler", sd(prediction_type="v_prediction", timestep_spacing="trailing", rescale_betas_zero_snr=True), 6),
    ("euler", of_class("EulerDiscreteScheduler", beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1, timestep_spacing="leading"), 10),
    # Euler ancestral
    ("euler-ancestral", sd(), 10),
    ("euler-ancestral", sd(prediction_type="v_prediction", timestep_spacing="trailing"), 6),
    # DPM-Solver++ (multistep)
    ("dpm-solver++", sd(), 10),
    ("dpm-solver++", sd(solver_order=3, timestep_spacing="leading"), 10),
    ("dpm-solver++", sd(solver_order=3), 20),
    ("dpm-solver++", sd(use_karras_sigmas=True), 25),
    ("dpm-solver++", sd(solver_type="heun", use_karras_sigmas=True), 10),
    ("dpm-solver++", sd(algorithm_type="sde-dpmsolver++"), 8),
    ("dpm-solver++", sd(algorithm_type="sde-dpmsolver++", solver_order=3, solver_type="heun"), 8),
    ("dpm-solver++", sd(solver_order=1, use_exponential_sigmas=True), 6),
    ("dpm-solver++", sd(use_lu_lambdas=True, final_sigmas_type="sigma_min", lower_order_final=False, euler_at_final=True), 8),
    ("dpm-solver++", sd(thresholding=True, prediction_type="sample", sample_max_value=1.2), 6),
    ("dpm-solver++", sd(lambda_min_clipped=-5.1, timestep_spacing="trailing", prediction_type="v_prediction"), 10),
    ("dpm-solver++", sd(algorithm_type="deis", final_sigmas_type="sigma_min", lower_order_final=False), 7),
]

SCHEDULE_STEPS = [1, 2, 3, 4, 7, 25, 50]
SCHEDULE_CONFIGS = [
    sd(),
    sd(timestep_spacing="trailing"),
    sd(timestep_spacing="linspace"),
    sd(timestep_spacing="leading"),
    of_class("DDIMScheduler", beta_schedule="linear", steps_offset=0),
]


def float32(values):
    return [float(f"{float(v):.9g}") for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def build(name, config):
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "scheduler_config.json"), "w") as file:
            json.dump(config, file)
        source = SOURCE_CLASSES[config["_class_name"]].from_pretrained(folder)
    return CLASSES[name].from_config(source.config)


def eps(step):
    k = np.arange(SIZE, dtype=np.float64)
    values = np.sin(0.37 * (k + 1) + 1.3 * step) * (1 + 0.5 * np.cos(0.11 * k))
    return torch.from_numpy(values.astype(np.float32)).reshape(SHAPE)


def sigmas_of(scheduler):
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is None or isinstance(scheduler, (PNDMScheduler, DDIMScheduler)):
        return None
    return float32(sigmas)


def schedule(name, config, steps):
    scheduler = build(name, config)
    scheduler.set_timesteps(steps)
    return scheduler, {
        "timesteps": float32(scheduler.timesteps),
        "sigmas": sigmas_of(scheduler),
        "initNoiseSigma": float(scheduler.init_noise_sigma),
    }


def run(name, config, steps, seed):
    scheduler, record = schedule(name, config, steps)
    generator = torch.Generator().manual_seed(seed)
    initial = torch.randn(SHAPE, generator=generator, dtype=torch.float32)
    sample = initial * scheduler.init_noise_sigma
    sde = name == "dpm-solver++" and scheduler.config.algorithm_type.startswith("sde")
    samples, noises = [], []
    for i, t in enumerate(scheduler.timesteps):
        scaled = scheduler.scale_model_input(sample, t)
        output = 0.6 * eps(i) + 0.5 * scaled
        kwargs = {}
        if name == "euler-ancestral":
            # The step draws torch.randn(shape, generator=...): a copy of the generator shows what it drew.
            replay = torch.Generator().manual_seed(0)
            replay.set_state(generator.get_state())
            noises.append(float32(torch.randn(SHAPE, generator=replay, dtype=torch.float32)))
            kwargs["generator"] = generator
        elif sde:
            noise = torch.randn(SHAPE, generator=generator, dtype=torch.float32)
            noises.append(float32(noise))
            kwargs["variance_noise"] = noise
        sample = scheduler.step(output, t, sample, **kwargs).prev_sample
        samples.append(float32(sample))
    return {
        "scheduler": name,
        "config": config,
        "steps": steps,
        **record,
        "initial": float32(initial),
        "noise": noises or None,
        "samples": samples,
    }


def main():
    torch.manual_seed(0)
    runs = [run(name, config, steps, seed=1000 + index) for index, (name, config, steps) in enumerate(RUNS)]
    schedules = []
    for config in SCHEDULE_CONFIGS:
        for name in CLASSES:
            for steps in SCHEDULE_STEPS:
                if name == "pndm" and not config.get("skip_prk_steps", False) and steps < 4:
                    continue  # PRK needs four steps
                _, record = schedule(name, config, steps)
                schedules.append({"scheduler": name, "config": config, "steps": steps, **record})
    out = {
        "madeBy": "packages/reference/schedulers/make_fixtures.py",
        "diffusers": diffusers.__version__,
        "torch": torch.__version__.split("+")[0],
        "shape": list(SHAPE),
        "runs": runs,
        "schedules": schedules,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diffusers-schedulers.json")
    with open(path, "w") as file:
        json.dump(out, file, separators=(",", ":"))
        file.write("\n")
    print(f"wrote {path}: {len(runs)} runs, {len(schedules)} schedules")


if __name__ == "__main__":
    main()
