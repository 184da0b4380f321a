"""Sinusoidal diffusion-step embedding shared by both denoisers."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def _frequencies(dim: int, device: torch.device | None = None) -> Tensor:
    """The reference code's frequencies: exp(-log(10000) * i / (dim/2 - 1)), float32."""
    half = dim // 2
    scale = math.log(10000.0) / (half - 1)
    return torch.exp(torch.arange(half, dtype=torch.float32, device=device) * -scale)


class SinusoidalStepEmbedding(nn.Module):
    """Maps diffusion steps (B,) to (B, dim) as [sin(t*f), cos(t*f)].

    The frequencies stay float32 even when the model is cast to bfloat16: a step of 99 times a
    bf16-rounded frequency is off by up to ~0.4 rad, which would scramble the embedding. The
    output is cast to ``dtype`` (the caller's weight dtype) after the trig functions.
    """

    freqs: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"step embedding dim must be an even number >= 4, got {dim}")
        self.dim = dim
        self.register_buffer("freqs", _frequencies(dim), persistent=False)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> SinusoidalStepEmbedding:
        # .to(dtype) would round the frequencies; recompute them in float32 on the new device.
        super()._apply(fn, recurse)
        self.freqs = _frequencies(self.dim, device=self.freqs.device)
        return self

    def forward(self, timestep: Tensor, dtype: torch.dtype) -> Tensor:
        """timestep: (B,) int or float steps -> (B, dim) embedding in ``dtype``."""
        args = timestep.to(torch.float32)[:, None] * self.freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1).to(dtype)


def broadcast_timestep(timestep: Tensor | int | float, batch: int, device: torch.device) -> Tensor:
    """Turns a scalar, 0-d or (B,)/(1,) step into a (batch,) tensor (a view when possible)."""
    if not isinstance(timestep, Tensor):
        timestep = torch.tensor([timestep], device=device)
    elif timestep.ndim == 0:
        timestep = timestep.reshape(1)
    if timestep.ndim != 1 or timestep.shape[0] not in (1, batch):
        raise ValueError(f"timestep must be a scalar or shape ({batch},), got shape {tuple(timestep.shape)}")
    if timestep.device != device:
        timestep = timestep.to(device)
    return timestep.expand(batch)
