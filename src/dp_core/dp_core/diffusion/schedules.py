"""Noise schedules: DDPM for training (and full-chain sampling) and DDIM for fast sampling.

Both match diffusers' ``DDPMScheduler`` (variance_type="fixed_small") and ``DDIMScheduler``
(timestep_spacing="leading", steps_offset=0, set_alpha_to_one=True, eta=0) numerically for the
same settings, so checkpoints trained with the original implementation sample identically.
They are plain objects (not ``nn.Module``), so they add nothing to a policy's state dict.

Shapes: B batch, and any trailing sample dims (actions are (B, H, D)). Timesteps are int64.

Performance: ``set_timesteps`` precomputes, on the sampling device and dtype, one tuple of 0-dim
coefficient tensors per inference step, so ``step`` does tensor arithmetic only (no indexing,
no host→device copies, no recompiles under torch.compile).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

BetaSchedule = Literal["squaredcos_cap_v2", "linear", "scaled_linear"]
PredictionType = Literal["epsilon", "sample"]

# GLIDE's cosine schedule caps betas below 1 so that alphas_cumprod never reaches 0 before the end.
_MAX_BETA = 0.999
_COSINE_OFFSET = 0.008


@dataclass(frozen=True)
class NoiseScheduleConfig:
    """The forward (noising) process and what the denoiser predicts.

    Attributes:
        num_train_timesteps: diffusion steps of the training chain (the paper: 100).
        beta_schedule: "squaredcos_cap_v2" (paper), "linear" or "scaled_linear".
        beta_start, beta_end: first/last beta of the linear schedules (unused by the cosine one).
        prediction_type: "epsilon" (the denoiser predicts the noise) or "sample" (predicts x0).
        clip_sample: clamp the predicted x0 to [-clip_sample_range, clip_sample_range] each step.
        clip_sample_range: the clamp bound (normalized actions live in [-1, 1]).
    """

    num_train_timesteps: int = 100
    beta_schedule: BetaSchedule = "squaredcos_cap_v2"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: PredictionType = "epsilon"
    clip_sample: bool = True
    clip_sample_range: float = 1.0

    def __post_init__(self) -> None:
        if int(self.num_train_timesteps) != self.num_train_timesteps or self.num_train_timesteps < 1:
            raise ValueError(f"num_train_timesteps must be an integer >= 1, got {self.num_train_timesteps}")
        if self.beta_schedule not in ("squaredcos_cap_v2", "linear", "scaled_linear"):
            raise ValueError(
                f"beta_schedule must be 'squaredcos_cap_v2', 'linear' or 'scaled_linear', got {self.beta_schedule!r}"
            )
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.prediction_type not in ("epsilon", "sample"):
            raise ValueError(f"prediction_type must be 'epsilon' or 'sample', got {self.prediction_type!r}")
        if not self.clip_sample_range > 0:
            raise ValueError(f"clip_sample_range must be > 0, got {self.clip_sample_range}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseScheduleConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown noise schedule fields: {sorted(unknown)}")
        return cls(**data)


def make_betas(config: NoiseScheduleConfig) -> Tensor:
    """Betas (num_train_timesteps,) float32, computed exactly as diffusers does."""
    n = config.num_train_timesteps
    if config.beta_schedule == "linear":
        return torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float32)
    if config.beta_schedule == "scaled_linear":
        return torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float32) ** 2

    def alpha_bar(t: float) -> float:  # Nichol & Dhariwal 2021, eq. 17
        return math.cos((t + _COSINE_OFFSET) / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), _MAX_BETA) for i in range(n)]
    return torch.tensor(betas, dtype=torch.float32)


def leading_timesteps(num_train_timesteps: int, num_inference_steps: int) -> np.ndarray:
    """diffusers' "leading" spacing: [k * (T // n) for k in n-1 .. 0] (the last step is t = 0)."""
    if int(num_inference_steps) != num_inference_steps or not 1 <= num_inference_steps <= num_train_timesteps:
        raise ValueError(
            f"num_inference_steps must be an integer in [1, {num_train_timesteps}] (the training steps), "
            f"got {num_inference_steps}"
        )
    step_ratio = num_train_timesteps // num_inference_steps
    return (np.arange(num_inference_steps, dtype=np.int64) * step_ratio)[::-1].copy()


class _Scheduler(ABC):
    """Shared training half (forward process) and inference bookkeeping."""

    def __init__(self, config: NoiseScheduleConfig | None = None) -> None:
        self.config = config or NoiseScheduleConfig()
        self.betas = make_betas(self.config)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # float32, as diffusers
        ab = self.alphas_cumprod
        self._noise_table = torch.stack([ab**0.5, (1 - ab) ** 0.5])  # (2, T) float32
        self._noise_cache: dict[tuple[torch.device, torch.dtype], Tensor] = {}
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(self.config.num_train_timesteps - 1, -1, -1)
        self.timesteps_host: tuple[int, ...] = ()  # the same steps on the host: reading them never syncs a GPU
        self._coefficients: list[tuple[Tensor, ...]] = []
        self._key: tuple[int, torch.device, torch.dtype] | None = None

    @property
    def num_train_timesteps(self) -> int:
        return self.config.num_train_timesteps

    # ---- training (forward process) ----

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """q(x_t | x0) sample: sqrt(ab_t) x0 + sqrt(1 - ab_t) noise; t: (B,) int or a scalar."""
        if x0.shape != noise.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} must have the same shape")
        table = self._noise_table_for(x0.device, x0.dtype)
        t = torch.as_tensor(t, device=x0.device)
        if t.dim() == 0:
            t = t.expand(x0.shape[0])
        if t.shape != (x0.shape[0],):
            raise ValueError(f"timesteps must have shape (B,) = ({x0.shape[0]},), got {tuple(t.shape)}")
        coef = table[:, t].reshape(2, x0.shape[0], *([1] * (x0.dim() - 1)))
        return coef[0] * x0 + coef[1] * noise

    def sample_timesteps(
        self, batch: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> Tensor:
        """Uniform training timesteps (batch,) int64 in [0, num_train_timesteps)."""
        draw_device = generator.device if generator is not None else device
        t = torch.randint(0, self.num_train_timesteps, (batch,), generator=generator, device=draw_device)
        return t.to(device) if device is not None else t

    def training_target(self, x0: Tensor, noise: Tensor) -> Tensor:
        """What the denoiser is regressed on: the noise (epsilon) or the clean sample."""
        return noise if self.config.prediction_type == "epsilon" else x0

    def _noise_table_for(self, device: torch.device, dtype: torch.dtype) -> Tensor:
        key = (device, dtype)
        table = self._noise_cache.get(key)
        if table is None:
            table = self._noise_table.to(device=device, dtype=dtype)
            self._noise_cache[key] = table
        return table

    # ---- inference ----

    def set_timesteps(
        self, num_inference_steps: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        """Choose the inference steps and precompute their coefficients on ``device`` in ``dtype``."""
        device = torch.device(device)
        key = (int(num_inference_steps), device, dtype)
        if key == self._key:
            return
        steps = leading_timesteps(self.num_train_timesteps, num_inference_steps)
        prev = self._previous_timesteps(steps)
        # Coefficients are computed in float32 with diffusers' operation order, then cast: in float32,
        # 1 - ab_t / ab_prev loses ~4 digits near t = 0 and we want the reference's numbers, not better ones.
        ab = self.alphas_cumprod
        ab_t = ab[torch.from_numpy(steps)]
        # Past the last step the chain reaches x0: alpha_cumprod 1 (diffusers' set_alpha_to_one / `one`).
        prev_t = torch.from_numpy(prev)
        ab_prev = torch.where(prev_t >= 0, ab[prev_t.clamp(min=0)], torch.ones((), dtype=ab.dtype))
        table = self._coefficient_table(ab_t, ab_prev, torch.from_numpy(steps))  # (n, K) float32
        table = table.to(device=device, dtype=dtype)
        self._coefficients = [tuple(row.unbind()) for row in table.unbind(0)]
        self.timesteps = torch.from_numpy(steps).to(device)
        self.timesteps_host = tuple(int(t) for t in steps)
        self.num_inference_steps = int(num_inference_steps)
        self._key = key

    @abstractmethod
    def step(
        self, model_output: Tensor, step_index: int, sample: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """x_t at ``timesteps[step_index]`` and the model output -> x at the next (earlier) timestep."""
        raise NotImplementedError

    @abstractmethod
    def _previous_timesteps(self, steps: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @abstractmethod
    def _coefficient_table(self, ab_t: Tensor, ab_prev: Tensor, steps: Tensor) -> Tensor:
        raise NotImplementedError

    def _coefficients_at(self, step_index: int) -> tuple[Tensor, ...]:
        if self._key is None:
            raise RuntimeError("call set_timesteps(num_inference_steps, device, dtype) before step()")
        return self._coefficients[step_index]

    def _clip(self, x0: Tensor) -> Tensor:
        if self.config.clip_sample:
            bound = self.config.clip_sample_range
            return x0.clamp(-bound, bound)
        return x0


class DDPMScheduler(_Scheduler):
    """Ho et al. 2020 ancestral sampling with the "fixed_small" posterior variance.

    With ``set_timesteps(T)`` this is the paper's 100-step chain; fewer steps skip timesteps the
    way diffusers does (posterior between consecutive chosen timesteps).
    """

    def _previous_timesteps(self, steps: np.ndarray) -> np.ndarray:
        return np.append(steps[1:], -1)

    def _coefficient_table(self, ab_t: Tensor, ab_prev: Tensor, steps: Tensor) -> Tensor:
        alpha_t = ab_t / ab_prev
        beta_t = 1 - alpha_t
        # Posterior q(x_prev | x_t, x0) mean coefficients and variance (Ho et al. eq. 6-7).
        coef_x0 = (ab_prev**0.5 * beta_t) / (1 - ab_t)
        coef_xt = alpha_t**0.5 * (1 - ab_prev) / (1 - ab_t)
        variance = ((1 - ab_prev) / (1 - ab_t) * beta_t).clamp(min=1e-20)
        # diffusers adds no noise on the step that lands at t = 0.
        std = torch.where(steps > 0, variance**0.5, torch.zeros((), dtype=variance.dtype))
        return torch.stack([ab_t**0.5, (1 - ab_t) ** 0.5, coef_x0, coef_xt, std], dim=1)

    def step(
        self, model_output: Tensor, step_index: int, sample: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        sqrt_ab, sqrt_one_minus_ab, coef_x0, coef_xt, std = self._coefficients_at(step_index)
        if self.config.prediction_type == "epsilon":
            x0 = (sample - sqrt_one_minus_ab * model_output) / sqrt_ab
        else:
            x0 = model_output
        prev = coef_x0 * self._clip(x0) + coef_xt * sample
        if self.timesteps_host[step_index] > 0:
            prev = prev + std * _randn_like(model_output, generator)
        return prev


class DDIMScheduler(_Scheduler):
    """Song et al. 2021 deterministic sampling (eta = 0) on diffusers' "leading" timesteps."""

    def _previous_timesteps(self, steps: np.ndarray) -> np.ndarray:
        return steps - self.num_train_timesteps // len(steps)

    def _coefficient_table(self, ab_t: Tensor, ab_prev: Tensor, steps: Tensor) -> Tensor:
        return torch.stack([ab_t**0.5, (1 - ab_t) ** 0.5, ab_prev**0.5, (1 - ab_prev) ** 0.5], dim=1)

    def step(
        self, model_output: Tensor, step_index: int, sample: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        sqrt_ab, sqrt_one_minus_ab, sqrt_ab_prev, sqrt_one_minus_ab_prev = self._coefficients_at(step_index)
        if self.config.prediction_type == "epsilon":
            x0 = (sample - sqrt_one_minus_ab * model_output) / sqrt_ab
            eps = model_output
        else:
            x0 = model_output
            # diffusers derives epsilon from the unclipped x0 (use_clipped_model_output=False).
            eps = (sample - sqrt_ab * x0) / sqrt_one_minus_ab
        return sqrt_ab_prev * self._clip(x0) + sqrt_one_minus_ab_prev * eps


def _randn_like(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise drawn on the generator's device (as diffusers), moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    return torch.randn(like.shape, generator=generator, device=device, dtype=like.dtype).to(like.device)
