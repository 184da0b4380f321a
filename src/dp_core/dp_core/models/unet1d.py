"""1D conditional U-Net denoiser with FiLM conditioning (Chi et al. 2023, "CNN-based").

Shape letters: B batch, L horizon (action steps), A action_dim, T n_obs_steps, F obs feature dim,
C channels.

Layout follows the paper's reference code so that parameter counts match (65,783,298 at the
Push-T low-dim sizes): per resolution level two conditional residual blocks, stride-2 Conv1d
down (none after the last level), two residual blocks in the middle, and per up level (one fewer
than down levels) skip concat → two residual blocks → ConvTranspose1d up. As in the reference, the
skip output of the first (full-resolution) down level is not used.

FiLM conditioning: the reference gives every residual block its own ``Mish → Linear(cond_dim, 2C)``
over cond = [step embedding, flattened obs features]. Mish is elementwise and Linear is linear, so
this equals ``W_step·mish(step) + W_obs·mish(obs) + b``. Here the step and observation parts of all
blocks are stacked into two Linear layers (same parameter count): the observation part is computed
once per action chunk (``encode_condition``) and reused by every denoising step, and the step part
is one matmul per step instead of one per block.

Initialization (``film_init``): "original" draws every FiLM weight and bias from
U(-1/sqrt(C), 1/sqrt(C)) with C = step_dim + T*F, the distribution of the reference's one
Linear(C, .) per block (PyTorch's default bound 1/sqrt(fan_in) of the whole condition). "split"
keeps PyTorch's default for the two stacked layers (bounds 1/sqrt(step_dim) and 1/sqrt(T*F): the
observation part starts ~2.7x larger at Push-T sizes); checkpoints trained before film_init
existed were initialized that way. The forward pass is the same either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dp_core.models.cpu_training_ops import GroupNorm, Mish
from dp_core.models.denoiser_inputs import check_obs_features, check_sizes, condition
from dp_core.models.step_embedding import SinusoidalStepEmbedding, broadcast_timestep


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the 1D conditional U-Net (defaults: the paper's Push-T settings)."""

    down_dims: tuple[int, ...] = (256, 512, 1024)
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 256
    cond_predict_scale: bool = True
    film_init: Literal["original", "split"] = "original"

    def __post_init__(self) -> None:
        if self.film_init not in ("original", "split"):
            raise ValueError(f"film_init must be 'original' or 'split', got {self.film_init!r}")
        object.__setattr__(self, "down_dims", tuple(int(d) for d in self.down_dims))
        if not self.down_dims or min(self.down_dims) < 1:
            raise ValueError(f"down_dims must be a non-empty list of positive ints, got {list(self.down_dims)}")
        if self.n_groups < 1:
            raise ValueError(f"n_groups must be >= 1, got {self.n_groups}")
        bad = [d for d in self.down_dims if d % self.n_groups]
        if bad:
            raise ValueError(f"every down_dims entry must be divisible by n_groups={self.n_groups}, got {bad}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1 (keeps the length), got {self.kernel_size}")
        if self.diffusion_step_embed_dim < 4 or self.diffusion_step_embed_dim % 2:
            raise ValueError(f"diffusion_step_embed_dim must be even and >= 4, got {self.diffusion_step_embed_dim}")

    @property
    def downsample_factor(self) -> int:
        """The horizon must be a multiple of this (one stride-2 step per level but the last)."""
        return 2 ** (len(self.down_dims) - 1)


#: Wide convolutions on CPU run as one matmul over unfolded windows (im2col): at the U-Net's short
#: lengths (4-16 steps) oneDNN's convolution backward is up to 1.7x slower than the matmul's
#: (measured on the 2-core dev VM, batch 256: 1024 channels at L=4 343 vs 200 ms fwd+bwd; below
#: 512 channels the library convolution is as fast or faster).
GEMM_MIN_IN_CHANNELS = 512


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` (same parameters and state dict) that runs wide layers on CPU as im2col + matmul.

    Any stride (the stride-2 downsampling too) and kernel size (the 1x1 residual projections too):
    at 2048 -> 512 channels, length 4, a 1x1 convolution's backward took 66 ms in oneDNN and ~27 ms
    as a matmul; a stride-2 512-channel one 64 ms vs ~20 ms (batch 256, one thread).
    The output is (B, L, C_out) in memory (a transposed view), the layout GroupNorm's fast kernel reads.
    """

    def forward(self, x: Tensor) -> Tensor:
        if (
            x.device.type != "cpu"
            or self.in_channels < GEMM_MIN_IN_CHANNELS
            or x.ndim != 3
            or self.dilation != (1,)
            or self.groups != 1
            or self.padding_mode != "zeros"
        ):
            return super().forward(x)
        batch, channels, _ = x.shape
        k, pad, stride = self.kernel_size[0], self.padding[0], self.stride[0]
        if k == 1 and pad == 0 and stride == 1:
            rows = x.transpose(1, 2).reshape(-1, channels)  # a view for (B, L, C)-in-memory activations
        else:
            rows = _Im2col.apply(x.transpose(1, 2), k, pad, stride)
        length = rows.shape[0] // batch
        weight = self.weight.reshape(self.out_channels, channels * k)
        out = torch.addmm(self.bias, rows, weight.t()) if self.bias is not None else rows @ weight.t()
        return out.reshape(batch, length, self.out_channels).transpose(1, 2)


class _Im2col(torch.autograd.Function):
    """(B, L, C) -> im2col rows (B*L_out, C*k) of the zero-padded sequence, and the fold back.

    The rows are those of unfolding (B, C, L) (channel-major, the weight's (C, k) order), gathered
    along L in (B, L, C) order: a faster copy (3.3 vs 5.6 ms at 1024 channels, L 4, batch 256),
    most of all for the (B, L, C)-in-memory activations GroupNorm and Mish hand on. The backward
    adds the k window columns back in k strided passes (5.3 ms there; torch's unfold backward 14 ms).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, k: int, pad: int, stride: int) -> Tensor:
        batch, length, channels = x.shape
        windows = F.pad(x, (0, 0, pad, pad)).unfold(1, k, stride)  # (B, L_out, C, k) view
        ctx.geometry = (batch, length, channels, k, pad, stride, windows.shape[1])
        rows = windows.reshape(batch * windows.shape[1], channels * k)
        return rows.clone() if rows.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() else rows

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        batch, length, channels, k, pad, stride, out_length = ctx.geometry
        windows = grad.reshape(batch, out_length, channels, k)
        padded = grad.new_zeros(batch, length + 2 * pad, channels)
        span = (out_length - 1) * stride + 1
        for j in range(k):
            padded[:, j : j + span : stride] += windows[..., j]
        return padded[:, pad : pad + length], None, None, None


class ConvTranspose1d(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` (same parameters and state dict); wide CPU layers as matmul + overlap-add.

    Each input step times the weight gives k output columns (one matmul over all B*L steps), which
    ``F.fold`` adds into place (col2im). At 512 channels, length 4 -> 8, batch 256, one thread:
    forward + backward 57 ms vs 104 ms for torch's kernel.
    """

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if (
            x.device.type != "cpu"
            or self.in_channels < GEMM_MIN_IN_CHANNELS
            or x.ndim != 3
            or output_size is not None
            or self.dilation != (1,)
            or self.groups != 1
        ):
            return super().forward(x, output_size)
        batch, channels, length = x.shape
        k, stride, pad = self.kernel_size[0], self.stride[0], int(self.padding[0])  # an int padding (checked)
        out_length = (length - 1) * stride - 2 * pad + k + self.output_padding[0]
        rows = x.transpose(1, 2).reshape(batch * length, channels)
        cols = (rows @ self.weight.reshape(channels, -1)).reshape(batch, length, -1).transpose(1, 2)  # (B, O*k, L)
        out = F.fold(cols, output_size=(1, out_length), kernel_size=(1, k), stride=(1, stride), padding=(0, pad))
        out = out.squeeze(2)
        return out + self.bias[:, None] if self.bias is not None else out


class Conv1dBlock(nn.Sequential):
    """Conv1d → GroupNorm → Mish, length preserving."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int) -> None:
        super().__init__(
            Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            GroupNorm(n_groups, out_channels),
            Mish(),
        )


class ConditionalResidualBlock1D(nn.Module):
    """Two Conv1dBlocks with FiLM (scale and bias, or bias only) between them, plus a residual."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int, cond_predict_scale: bool
    ) -> None:
        super().__init__()
        self.conv_in = Conv1dBlock(in_channels, out_channels, kernel_size, n_groups)
        self.conv_out = Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)
        self.residual = Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.cond_predict_scale = cond_predict_scale
        self.film_channels = 2 * out_channels if cond_predict_scale else out_channels

    def forward(self, x: Tensor, film: Tensor) -> Tensor:
        """x: (B, C_in, L), film: (B, film_channels, 1) -> (B, C_out, L)."""
        h = self.conv_in(x)
        if self.cond_predict_scale:
            scale, bias = film.chunk(2, dim=1)  # reference order: scale first, then bias
            h = torch.addcmul(bias, scale, h)
        else:
            h = h + film
        return self.conv_out(h) + self.residual(x)


class _Level(nn.Module):
    """Two residual blocks and an optional resampling conv (Identity when absent)."""

    def __init__(self, in_channels: int, out_channels: int, resample: nn.Module, config: UNetConfig) -> None:
        super().__init__()
        args = (config.kernel_size, config.n_groups, config.cond_predict_scale)
        self.block1 = ConditionalResidualBlock1D(in_channels, out_channels, *args)
        self.block2 = ConditionalResidualBlock1D(out_channels, out_channels, *args)
        self.resample = resample

    block1: ConditionalResidualBlock1D  # typed for readers (nn.Module attributes)
    block2: ConditionalResidualBlock1D


class ConditionalUnet1D(nn.Module):
    """Predicts noise (or the clean sample) for a noisy action sequence, conditioned on obs features."""

    def __init__(
        self,
        action_dim: int,
        obs_feature_dim: int,
        n_obs_steps: int,
        horizon: int,
        config: UNetConfig | None = None,
    ) -> None:
        super().__init__()
        config = config or UNetConfig()
        check_sizes(action_dim=action_dim, obs_feature_dim=obs_feature_dim, n_obs_steps=n_obs_steps, horizon=horizon)
        if horizon % config.downsample_factor:
            raise ValueError(
                f"horizon ({horizon}) must be divisible by 2**(len(down_dims)-1) = {config.downsample_factor} "
                f"for down_dims {list(config.down_dims)}; change horizon or use fewer down_dims"
            )
        self.config = config
        self.action_dim, self.obs_feature_dim, self.n_obs_steps, self.horizon = (
            action_dim,
            obs_feature_dim,
            n_obs_steps,
            horizon,
        )
        dims = (action_dim, *config.down_dims)
        step_dim = config.diffusion_step_embed_dim

        self.step_embedding = SinusoidalStepEmbedding(step_dim)
        self.step_mlp = nn.Sequential(nn.Linear(step_dim, 4 * step_dim), nn.Mish(), nn.Linear(4 * step_dim, step_dim))
        n_levels = len(config.down_dims)
        self.down = nn.ModuleList(
            _Level(
                dims[i],
                dims[i + 1],
                Conv1d(dims[i + 1], dims[i + 1], 3, 2, 1) if i < n_levels - 1 else nn.Identity(),
                config,
            )
            for i in range(n_levels)
        )
        self.mid = _Level(dims[-1], dims[-1], nn.Identity(), config)
        self.up = nn.ModuleList(
            _Level(2 * dims[i + 1], dims[i], ConvTranspose1d(dims[i], dims[i], 4, 2, 1), config)
            for i in reversed(range(1, n_levels))
        )
        self.final = nn.Sequential(
            Conv1dBlock(dims[1], dims[1], config.kernel_size, config.n_groups), nn.Conv1d(dims[1], action_dim, 1)
        )
        self._film_sizes = [
            b.film_channels for level in (*self.down, self.mid, *self.up) for b in (level.block1, level.block2)
        ]
        self.film_step = nn.Linear(step_dim, sum(self._film_sizes))
        self.film_obs = nn.Linear(obs_feature_dim * n_obs_steps, sum(self._film_sizes), bias=False)
        if config.film_init == "original":
            bound = 1.0 / math.sqrt(step_dim + obs_feature_dim * n_obs_steps)
            for parameter in (self.film_step.weight, self.film_step.bias, self.film_obs.weight):
                nn.init.uniform_(parameter, -bound, bound)

    def encode_condition(self, obs_features: Tensor) -> Tensor:
        """obs_features: (B, T, F) -> cond_cache (B, total FiLM channels), reusable across steps."""
        check_obs_features(obs_features, self.n_obs_steps, self.obs_feature_dim)
        return self.film_obs(F.mish(obs_features.flatten(1).to(self.film_obs.weight.dtype)))

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | int | float,
        obs_features: Tensor | None = None,
        cond_cache: Tensor | None = None,
    ) -> Tensor:
        """sample: (B, L, A), timestep: (B,) or scalar, obs_features: (B, T, F) -> (B, L, A).

        The call convention of :mod:`dp_core.models.denoiser`; inputs and output in the weights' dtype.
        """
        if sample.ndim != 3 or sample.shape[2] != self.action_dim or sample.shape[1] % self.config.downsample_factor:
            raise ValueError(
                f"sample must have shape (B, L, {self.action_dim}) with L divisible by "
                f"{self.config.downsample_factor}, got {tuple(sample.shape)}"
            )
        cond_cache = condition(self.encode_condition, obs_features, cond_cache)
        steps = broadcast_timestep(timestep, sample.shape[0], sample.device)
        step_feature = self.step_mlp(self.step_embedding(steps, self.film_step.weight.dtype))
        film = (self.film_step(F.mish(step_feature)) + cond_cache).unsqueeze(-1)
        return self.run_levels(sample.to(film.dtype), film)

    def run_levels(self, sample: Tensor, film: Tensor) -> Tensor:
        """The traversal given every block's FiLM: sample (B, L, A), film (B, C, 1) -> (B, L, A).

        Split from ``forward`` so that a faster variant (``policy.fast_inference``) that computes
        the FiLM its own way runs exactly this network.
        """
        films = iter(film.split(self._film_sizes, dim=1))
        x = sample.transpose(1, 2)  # (B, A, L)
        skips = []
        for level in cast("list[_Level]", self.down):
            x = level.block2(level.block1(x, next(films)), next(films))
            skips.append(x)
            x = level.resample(x)
        x = self.mid.block2(self.mid.block1(x, next(films)), next(films))
        for level in cast("list[_Level]", self.up):
            x = torch.cat((x, skips.pop()), dim=1)
            x = level.block2(level.block1(x, next(films)), next(films))
            x = level.resample(x)
        return self.final(x).transpose(1, 2)
