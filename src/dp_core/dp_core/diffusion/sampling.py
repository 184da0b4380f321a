"""The reverse-diffusion loop: from Gaussian noise (or a re-noised previous plan) to actions.

The denoiser is passed as a closure ``denoise_fn(x_t, t)`` over the already encoded observation
conditioning, so observations are encoded once per chunk, not once per denoising step.

Shapes: x_t (B, H, D) normalized actions; t (B,) int64 timesteps on the sampling device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from dp_core.diffusion.schedules import DDIMScheduler, DDPMScheduler

DenoiseFn = Callable[[Tensor, Tensor], Tensor]


def warm_start_steps(num_inference_steps: int, init_noise_level: float) -> int:
    """How many of the last inference steps a warm start runs: round(level * n), at least 1."""
    if not (isinstance(init_noise_level, (int, float)) and math.isfinite(init_noise_level)) or not (
        0 < init_noise_level <= 1
    ):
        raise ValueError(f"init_noise_level must be a number in (0, 1], got {init_noise_level!r}")
    return min(num_inference_steps, max(1, round(init_noise_level * num_inference_steps)))


@torch.no_grad()
def sample_actions(
    denoise_fn: DenoiseFn,
    scheduler: DDPMScheduler | DDIMScheduler,
    shape: tuple[int, int, int],
    *,
    num_inference_steps: int,
    generator: torch.Generator | None = None,
    device: torch.device | str,
    dtype: torch.dtype,
    init_actions: Tensor | None = None,
    init_noise_level: float | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """Run the reverse chain of ``scheduler`` and return normalized actions (B, H, D).

    Cold start: x_T ~ N(0, I), then every inference step. Warm start (SDEdit, Meng et al. 2022):
    ``init_actions`` (B, H, D, normalized) are noised to the timestep ``k = round(init_noise_level
    * num_inference_steps)`` steps before the end and only those k steps run; k equal to all
    steps is the cold start (the full chain starts from pure noise by definition).

    Noise is drawn from ``generator`` in the same order as the original implementation (initial
    noise, then one draw per stochastic DDPM step), so results are reproducible for a seed and
    equal to the original's diffusers loop for the same generator. ``noise`` (shape ``shape``)
    replaces the initial draw (x_T of a cold start); DDIM (eta 0) is then deterministic. The caller should run this
    under ``torch.inference_mode()``; it never builds an autograd graph.
    """
    device = torch.device(device)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be (B, H, D) with positive sizes, got {tuple(shape)}")
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    scheduler.set_timesteps(num_inference_steps, device=device, dtype=dtype)
    start = _start_index(scheduler, shape, init_actions, init_noise_level)
    if noise is None:
        x = _randn(shape, generator, device, dtype)
    elif tuple(noise.shape) != shape:
        raise ValueError(f"noise must have shape {shape} (B, H, D), got {tuple(noise.shape)}")
    else:
        x = noise.to(device=device, dtype=dtype)
    steps = scheduler.num_inference_steps
    assert steps is not None  # set_timesteps above
    if start > 0 and init_actions is not None:
        # The drawn noise becomes the forward-process noise that takes init_actions to t_start.
        x = scheduler.add_noise(init_actions.to(device=device, dtype=dtype), x, scheduler.timesteps_host[start])
    # (B,) views of each timestep; made once per chunk, not per step.
    batch_steps = scheduler.timesteps.view(-1, 1).expand(-1, shape[0])
    for index in range(start, steps):
        output = denoise_fn(x, batch_steps[index])
        if index == start and output.shape != x.shape:
            raise ValueError(f"denoise_fn returned shape {tuple(output.shape)}, expected {tuple(x.shape)}")
        x = scheduler.step(output, index, x, generator=generator)
    return x


def _start_index(
    scheduler: DDPMScheduler | DDIMScheduler,
    shape: tuple[int, ...],
    init_actions: Tensor | None,
    init_noise_level: float | None,
) -> int:
    """Index of the first inference step to run (0 for a cold start)."""
    if init_actions is None:
        if init_noise_level is not None:
            raise ValueError("init_noise_level was given without init_actions; pass both for a warm start")
        return 0
    if init_noise_level is None:
        raise ValueError("a warm start needs init_noise_level in (0, 1] together with init_actions")
    if tuple(init_actions.shape) != shape:
        raise ValueError(f"init_actions must have shape {shape} (B, H, D), got {tuple(init_actions.shape)}")
    n = scheduler.num_inference_steps
    assert n is not None  # set_timesteps runs first
    return n - warm_start_steps(n, init_noise_level)


def _randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Normal noise drawn on the generator's device (a CPU generator works for any device)."""
    draw_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=draw_device, dtype=dtype).to(device)
