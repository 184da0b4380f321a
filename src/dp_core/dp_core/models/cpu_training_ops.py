"""GroupNorm and Mish with faster CPU training paths at the paper U-Net's widths (same function, fp32).

Measured on the 2-core dev VM (one thread, batch 256, forward + backward): torch's GroupNorm
backward on a contiguous (B, 1024, 4) tensor takes ~13.8 ms (its per-channel loops do not
vectorize over a length of 4), the channels-last kernel on the same data ~4 ms including the
layout copy, and nothing when the input already has that layout (the im2col convolution's output
does, ``unet1d.Conv1d``). torch's Mish forward + backward on 1M floats ~8.7 ms; computing it as
``x * tanh(log1p(exp(x)))`` with the same derivative formula in a few vectorized passes ~5.7 ms.

Both paths run only where they were measured faster and only while autograd records (training):
on CPU, 3-d inputs with at least ``FAST_MIN_CHANNELS`` channels (GroupNorm: length below
``GROUP_NORM_CHANNELS_LAST_MAX_LENGTH`` too). Inference (``no_grad``/``inference_mode``), GPUs and
the demo's narrow U-Net (32-128 channels) keep torch's kernels, so their numbers are unchanged.
The results differ from torch's by float rounding (~3e-7 relative, ``test_models_unet.py``);
modules, parameters and state dicts are torch's own (``nn.GroupNorm``, ``nn.Mish`` subclasses).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FAST_MIN_CHANNELS = 256
GROUP_NORM_CHANNELS_LAST_MAX_LENGTH = 7


def _fast_path(x: Tensor) -> bool:
    return x.device.type == "cpu" and x.ndim == 3 and x.shape[1] >= FAST_MIN_CHANNELS and torch.is_grad_enabled()


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm``; on short CPU sequences in training it runs torch's channels-last kernel."""

    def forward(self, x: Tensor) -> Tensor:
        if not (_fast_path(x) and x.shape[2] <= GROUP_NORM_CHANNELS_LAST_MAX_LENGTH):
            return super().forward(x)
        # (B, C, 1, L): channels-last strides (L*C, 1, L*C, C) are exactly a (B, L, C) memory layout, so this
        # is a view for the im2col convolution's output (an unsqueeze at the end would get stride 1 there,
        # which torch does not take as channels-last: its slow kernel again).
        x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return F.group_norm(x4, self.num_groups, self.weight, self.bias, self.eps).squeeze(2)


class _MishFunction(torch.autograd.Function):
    """mish(x) = x tanh(softplus(x)); d/dx = t + x sigmoid(x) (1 - t^2) with t = tanh(softplus(x)) (torch's formula)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        # exp overflows to inf for x > 88: log1p(inf) = inf, tanh(inf) = 1, so mish(x) = x as it should.
        t = torch.exp(x).log1p_().tanh_()
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        x, t = ctx.saved_tensors
        t2_minus_one = t.square().sub_(1.0)
        return torch.addcmul(t, F.silu(x), t2_minus_one, value=-1.0).mul_(grad)  # x sigmoid(x) = silu(x)


class Mish(nn.Mish):
    """``nn.Mish``; wide CPU activations in training use the vectorized composite above."""

    def forward(self, x: Tensor) -> Tensor:
        if _fast_path(x) and x.requires_grad:
            return _MishFunction.apply(x)
        return super().forward(x)
