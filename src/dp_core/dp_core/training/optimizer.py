"""AdamW with the original's parameter groups, and its learning-rate schedule.

Groups (``decay_groups``), as the original's transformer policies build them
(diffusion_policy/model/diffusion/transformer_for_diffusion.py ``get_optim_groups`` and
policy/diffusion_transformer_hybrid_image_policy.py ``get_optimizer``): the denoiser's Linear and
MultiheadAttention weights decay with ``weight_decay``; its biases, LayerNorm weights and learned
position embeddings do not; the observation encoder's parameters decay with
``obs_encoder_weight_decay``. The U-Net workspaces give AdamW all parameters in one group, so
the U-Net keeps one group.

Schedule: diffusers' ``get_scheduler("cosine")``: lr factor step / warmup during warm-up (0 at
the first step), then half a cosine to 0 at ``total_steps``. ``warmup_from_zero=False`` is
dp_core's earlier (step + 1) / warmup.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from dp_core.models.transformer import TransformerDenoiser

_DECAYED_MODULES = (nn.Linear, nn.MultiheadAttention)


def transformer_param_groups(denoiser: nn.Module, weight_decay: float) -> list[dict]:
    """[decayed weights, the rest with no decay] of a transformer denoiser (every parameter once)."""
    decay: dict[str, nn.Parameter] = {}
    for module_name, module in denoiser.named_modules():
        if isinstance(module, _DECAYED_MODULES):
            for name, parameter in module.named_parameters(recurse=False):
                if name.endswith("weight"):
                    decay[f"{module_name}.{name}" if module_name else name] = parameter
    rest = [p for n, p in denoiser.named_parameters() if n not in decay]
    return [{"params": list(decay.values()), "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def make_optimizer(
    model: nn.Module,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    decay_groups: bool = False,
    obs_encoder_weight_decay: float | None = None,
) -> torch.optim.AdamW:
    """AdamW; with ``decay_groups`` and a transformer denoiser, the original's groups (see module doc).

    The fused kernel on CPU/CUDA makes one pass over each parameter instead of ~10 elementwise
    kernels (the reference for-loop on CPU); same update up to float rounding.
    """
    params = list(model.parameters())
    denoiser = getattr(model, "denoiser", None)
    groups: list[dict] | list[nn.Parameter] = params
    if decay_groups and isinstance(denoiser, TransformerDenoiser):
        encoder = getattr(model, "encoder", None)
        encoder_params = list(encoder.parameters()) if encoder is not None else []
        groups = transformer_param_groups(denoiser, weight_decay)
        if encoder_params:
            groups.append(
                {
                    "params": encoder_params,
                    "weight_decay": weight_decay if obs_encoder_weight_decay is None else obs_encoder_weight_decay,
                }
            )
        grouped = {id(p) for g in groups for p in g["params"]}
        missing = [n for n, p in model.named_parameters() if id(p) not in grouped]
        if missing:
            raise ValueError(f"parameters outside the denoiser and encoder have no optimizer group: {missing[:5]}")
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused or None)


def lr_lambda(
    warmup_steps: int,
    total_steps: int,
    schedule: str,
    warmup_from_zero: bool = True,
) -> Callable[[int], float]:
    """Multiplier of the base lr: linear warm-up, then cosine to zero (or constant)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step if warmup_from_zero else step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))

    return factor
